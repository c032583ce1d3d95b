#include "base/regex_template.h"

#include <algorithm>
#include <cctype>

namespace strata {

std::string ExpandRegexTemplate(std::string_view tmpl, const RE2& re,
                                std::span<const re2::StringPiece> groups) {
  std::string out;
  const auto& names = re.NamedCapturingGroups();
  for (size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if (c != '$' || i + 1 >= tmpl.size()) {
      out.push_back(c);
      continue;
    }
    if (tmpl[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    std::string_view name;
    size_t end = 0;
    if (tmpl[i + 1] == '{') {
      size_t close = tmpl.find('}', i + 2);
      if (close == std::string_view::npos) {
        out.push_back(c);
        continue;
      }
      name = tmpl.substr(i + 2, close - i - 2);
      end = close;
    } else {
      size_t j = i + 1;
      while (j < tmpl.size() &&
             (std::isalnum(static_cast<unsigned char>(tmpl[j])) != 0 || tmpl[j] == '_')) {
        ++j;
      }
      name = tmpl.substr(i + 1, j - i - 1);
      end = j - 1;
    }
    bool valid = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_';
    });
    if (!valid) {
      out.push_back(c);
      continue;
    }
    i = end;
    int idx = -1;
    if (std::all_of(name.begin(), name.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
      idx = name.size() < 9 ? std::stoi(std::string(name)) : -1;
    } else if (auto it = names.find(std::string(name)); it != names.end()) {
      idx = it->second;
    }
    if (idx >= 0 && static_cast<size_t>(idx) < groups.size() && groups[idx].data() != nullptr) {
      out.append(groups[idx].data(), groups[idx].size());
    }
  }
  return out;
}

}  // namespace strata
