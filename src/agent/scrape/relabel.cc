#include "agent/scrape/relabel.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "base/regex_template.h"

namespace strata::agent {

namespace {

// Sets `name` to `value`, or deletes it when `value` is empty (an empty label is no label).
void Set(Labels& labels, const std::string& name, std::string value) {
  auto it = std::lower_bound(labels.begin(), labels.end(), name,
                             [](const Label& l, const std::string& n) { return l.name < n; });
  bool found = it != labels.end() && it->name == name;
  if (value.empty()) {
    if (found) labels.erase(it);
  } else if (found) {
    it->value = std::move(value);
  } else {
    labels.insert(it, {name, std::move(value)});
  }
}

// Prometheus's hashmod: the MD5 sum's last 8 bytes, big-endian, modulo `mod`.
uint64_t HashMod(std::string_view value, uint64_t mod) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(value.data(), value.size(), digest, &len, EVP_md5(), nullptr);
  uint64_t h = 0;
  for (int i = 8; i < 16; ++i) h = (h << 8) | digest[i];
  return h % mod;
}

bool IsValidLabelName(std::string_view n) { return IsValidLegacyLabelName(n); }

}  // namespace

Result<Relabeler> Relabeler::Compile(const std::vector<RelabelRule>& rules,
                                     const std::string& path) {
  static const std::map<std::string, Action> kActions = {
      {"replace", Action::kReplace},     {"keep", Action::kKeep},
      {"drop", Action::kDrop},           {"keepequal", Action::kKeepEqual},
      {"dropequal", Action::kDropEqual}, {"hashmod", Action::kHashMod},
      {"labelmap", Action::kLabelMap},   {"labeldrop", Action::kLabelDrop},
      {"labelkeep", Action::kLabelKeep}, {"lowercase", Action::kLowercase},
      {"uppercase", Action::kUppercase},
  };
  Relabeler r;
  for (size_t i = 0; i < rules.size(); ++i) {
    const RelabelRule& rule = rules[i];
    auto error = [&](std::string_view what) {
      return Status::InvalidArgument(fmt::format("config: \"{}[{}]\": {}", path, i, what));
    };
    auto it = kActions.find(rule.action);
    if (it == kActions.end()) return error(fmt::format("unknown action \"{}\"", rule.action));
    Compiled c{rule, it->second, nullptr};
    RE2::Options opts;
    opts.set_log_errors(false);
    c.regex = std::make_shared<RE2>("^(?:" + rule.regex + ")$", opts);
    if (!c.regex->ok()) return error(fmt::format("invalid regex: {}", c.regex->error()));
    switch (c.action) {
      case Action::kReplace:
      case Action::kHashMod:
      case Action::kLowercase:
      case Action::kUppercase:
      case Action::kKeepEqual:
      case Action::kDropEqual:
        if (rule.target_label.empty()) return error("target_label is required by this action");
        break;
      default:
        break;
    }
    if (c.action == Action::kHashMod && rule.modulus == 0) return error("modulus must be > 0");
    if ((c.action == Action::kLowercase || c.action == Action::kUppercase ||
         c.action == Action::kHashMod || c.action == Action::kKeepEqual ||
         c.action == Action::kDropEqual) &&
        !IsValidLabelName(rule.target_label)) {
      return error(fmt::format("\"{}\" is not a valid label name", rule.target_label));
    }
    r.rules_.push_back(std::move(c));
  }
  return r;
}

bool Relabeler::Apply(Labels& labels) const {
  std::string value;
  for (const auto& c : rules_) {
    const RelabelRule& rule = c.rule;
    value.clear();
    for (size_t i = 0; i < rule.source_labels.size(); ++i) {
      if (i > 0) value += rule.separator;
      value += GetLabel(labels, rule.source_labels[i]);
    }
    const RE2& re = *c.regex;
    switch (c.action) {
      case Action::kKeep:
        if (!RE2::FullMatch(value, re)) return false;
        break;
      case Action::kDrop:
        if (RE2::FullMatch(value, re)) return false;
        break;
      case Action::kKeepEqual:
        if (value != GetLabel(labels, rule.target_label)) return false;
        break;
      case Action::kDropEqual:
        if (value == GetLabel(labels, rule.target_label)) return false;
        break;
      case Action::kReplace: {
        std::vector<re2::StringPiece> groups(re.NumberOfCapturingGroups() + 1);
        if (!re.Match(value, 0, value.size(), RE2::UNANCHORED, groups.data(),
                      static_cast<int>(groups.size()))) {
          break;
        }
        std::string target = ExpandRegexTemplate(rule.target_label, re, groups);
        if (!IsValidLabelName(target)) break;
        Set(labels, target, ExpandRegexTemplate(rule.replacement, re, groups));
        break;
      }
      case Action::kHashMod:
        Set(labels, rule.target_label, std::to_string(HashMod(value, rule.modulus)));
        break;
      case Action::kLowercase:
      case Action::kUppercase: {
        for (auto& ch : value) {
          ch = static_cast<char>(c.action == Action::kLowercase
                                     ? std::tolower(static_cast<unsigned char>(ch))
                                     : std::toupper(static_cast<unsigned char>(ch)));
        }
        Set(labels, rule.target_label, value);
        break;
      }
      case Action::kLabelMap: {
        Labels mapped;
        for (const auto& l : labels) {
          std::vector<re2::StringPiece> groups(re.NumberOfCapturingGroups() + 1);
          if (re.Match(l.name, 0, l.name.size(), RE2::UNANCHORED, groups.data(),
                       static_cast<int>(groups.size()))) {
            mapped.push_back({ExpandRegexTemplate(rule.replacement, re, groups), l.value});
          }
        }
        for (auto& m : mapped) Set(labels, m.name, std::move(m.value));
        break;
      }
      case Action::kLabelDrop:
      case Action::kLabelKeep: {
        const bool drop = c.action == Action::kLabelDrop;
        std::erase_if(labels, [&](const Label& l) { return RE2::FullMatch(l.name, re) == drop; });
        break;
      }
    }
  }
  return true;
}

}  // namespace strata::agent
