#include "cache/disk_cache.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "base/mutex.h"

namespace strata::cache {
namespace {

Status Lmdb(int rc, std::string_view what) {
  if (rc == MDB_SUCCESS) return Status::Ok();
  return Status::IOError(fmt::format("disk cache: {}: {}", what, mdb_strerror(rc)));
}

std::string BigEndian(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

uint64_t FromBigEndian(const void* p) {
  const auto* b = static_cast<const unsigned char*>(p);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | b[i];
  return v;
}

MDB_val Val(std::string_view s) { return {s.size(), const_cast<char*>(s.data())}; }

// Entries hold their key and page besides the LMDB overhead.
uint64_t EntryBytes(size_t key, size_t value) { return key * 2 + value + 8 + 64; }

}  // namespace

Result<std::unique_ptr<DiskCache>> DiskCache::Open(const std::string& dir, uint64_t max_bytes) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::IOError(fmt::format("disk cache: creating {}: {}", dir, ec.message()));
    MDB_env* env = nullptr;
    RETURN_IF_ERROR(Lmdb(mdb_env_create(&env), "create"));
    // Room for the budget plus LMDB's page overhead and free pages not yet reused.
    mdb_env_set_mapsize(env, max_bytes * 2 + (64u << 20));
    mdb_env_set_maxdbs(env, 2);
    int rc = mdb_env_open(env, dir.c_str(), MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS, 0644);
    std::unique_ptr<DiskCache> cache(new DiskCache(env, max_bytes));
    Status st = rc == MDB_SUCCESS ? cache->Init() : Lmdb(rc, "open");
    if (st.ok()) return cache;
    cache.reset();
    spdlog::warn("msg=\"disk cache unusable, starting empty\" dir={} err=\"{}\"", dir,
                 st.message());
    std::filesystem::remove_all(dir, ec);
  }
  return Status::IOError(fmt::format("disk cache: cannot open {}", dir));
}

Status DiskCache::Init() {
  MDB_txn* txn = nullptr;
  RETURN_IF_ERROR(Lmdb(mdb_txn_begin(env_, nullptr, 0, &txn), "begin"));
  Status st = Lmdb(mdb_dbi_open(txn, "pages", MDB_CREATE, &pages_), "open pages");
  if (st.ok()) st = Lmdb(mdb_dbi_open(txn, "order", MDB_CREATE, &order_), "open order");
  // Recount what survived from the last run. (write_mu_ is taken only after the
  // transaction: Put takes it before LMDB's writer lock, and the order must be one.)
  uint64_t bytes = 0;
  uint64_t next_seq = 1;
  if (st.ok()) {
    MDB_cursor* cur = nullptr;
    st = Lmdb(mdb_cursor_open(txn, pages_, &cur), "cursor");
    MDB_val k;
    MDB_val v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); st.ok() && rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      if (v.mv_size < 8) {
        st = Status::Corruption("disk cache: short entry");
        break;
      }
      bytes += EntryBytes(k.mv_size, v.mv_size - 8);
      next_seq = std::max(next_seq, FromBigEndian(v.mv_data) + 1);
    }
    if (cur) mdb_cursor_close(cur);
  }
  if (!st.ok()) {
    mdb_txn_abort(txn);
    return st;
  }
  RETURN_IF_ERROR(Lmdb(mdb_txn_commit(txn), "commit"));
  MutexLock lk(write_mu_);
  bytes_ = bytes;
  next_seq_ = next_seq;
  return Status::Ok();
}

DiskCache::~DiskCache() { mdb_env_close(env_); }

std::optional<std::string> DiskCache::Get(const std::string& key) {
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn) != MDB_SUCCESS) return std::nullopt;
  MDB_val k = Val(key);
  MDB_val v;
  std::optional<std::string> out;
  if (mdb_get(txn, pages_, &k, &v) == MDB_SUCCESS && v.mv_size >= 8) {
    out.emplace(static_cast<const char*>(v.mv_data) + 8, v.mv_size - 8);
  }
  mdb_txn_abort(txn);
  return out;
}

void DiskCache::Evict(MDB_txn* txn, uint64_t need) {
  MDB_cursor* cur = nullptr;
  if (mdb_cursor_open(txn, order_, &cur) != MDB_SUCCESS) return;
  MDB_val k;
  MDB_val v;
  while (bytes_ + need > max_bytes_ && mdb_cursor_get(cur, &k, &v, MDB_FIRST) == MDB_SUCCESS) {
    uint64_t seq = FromBigEndian(k.mv_data);
    MDB_val page_key = v;
    MDB_val page;
    if (mdb_get(txn, pages_, &page_key, &page) == MDB_SUCCESS && page.mv_size >= 8 &&
        FromBigEndian(page.mv_data) == seq) {
      uint64_t n = EntryBytes(page_key.mv_size, page.mv_size - 8);
      mdb_del(txn, pages_, &page_key, nullptr);
      bytes_ -= std::min(bytes_, n);
    }
    mdb_cursor_del(cur, 0);
  }
  mdb_cursor_close(cur);
}

void DiskCache::Put(std::span<const std::pair<std::string, std::string>> pages) {
  if (pages.empty()) return;
  MutexLock lk(write_mu_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env_, nullptr, 0, &txn) != MDB_SUCCESS) return;
    uint64_t need = 0;
    for (const auto& [key, page] : pages) need += EntryBytes(key.size(), page.size());
    // A failed attempt ran out of map space: make room for twice as much.
    Evict(txn, need * (attempt + 1));
    uint64_t added = 0;
    int rc = MDB_SUCCESS;
    for (const auto& [key, page] : pages) {
      uint64_t seq = next_seq_++;
      std::string value = BigEndian(seq) + page;
      std::string order_key = BigEndian(seq);
      MDB_val k = Val(key);
      MDB_val v = Val(value);
      MDB_val ok = Val(order_key);
      rc = mdb_put(txn, pages_, &k, &v, 0);
      if (rc == MDB_SUCCESS) rc = mdb_put(txn, order_, &ok, &k, 0);
      if (rc != MDB_SUCCESS) break;
      added += EntryBytes(key.size(), page.size());
    }
    if (rc == MDB_SUCCESS && mdb_txn_commit(txn) == MDB_SUCCESS) {
      bytes_ += added;
      return;
    }
    if (rc != MDB_SUCCESS) mdb_txn_abort(txn);
    if (rc != MDB_MAP_FULL) return;
  }
}

uint64_t DiskCache::bytes() const {
  MutexLock lk(write_mu_);
  return bytes_;
}

}  // namespace strata::cache
