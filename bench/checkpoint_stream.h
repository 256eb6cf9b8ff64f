#pragma once
// The values a synthetic checkpoint holds and the writer that streams them to disk (make_real_checkpoint): a
// seeded random stream of 16-bit indices into a table of 65,536 pre-encoded normal quantiles, float -> bf16 / e4m3fn
// encoders, and a double-buffered chunk writer. Split from make_real_checkpoint.cpp, which plans the files.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

namespace dype::bench {

// splitmix64 seeds xoshiro256** (Blackman & Vigna), a fast generator whose every output bit is good: one 64-bit
// draw gives four 16-bit table indices.
struct Xoshiro256 {
  std::uint64_t s[4];
  explicit Xoshiro256(std::uint64_t seed);
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t next() {
    const std::uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
  }
};

// A tensor's stream of 16-bit indices, the same whatever chunks it is consumed in.
struct IndexStream {
  Xoshiro256 rng;
  std::uint64_t bits = 0;
  int left = 0;
  explicit IndexStream(std::uint64_t seed) : rng(seed) {}
  std::uint32_t one() {
    if (left == 0) {
      bits = rng.next();
      left = 4;
    }
    const auto v = static_cast<std::uint32_t>(bits & 0xFFFF);
    bits >>= 16;
    --left;
    return v;
  }
};

// FNV-1a of the name: each tensor's values depend on its name and the seed only (as io::RandomWeights does).
std::uint64_t hash_name(const std::string& s, std::uint64_t seed);

// Inverse of the standard normal CDF (P. J. Acklam's rational approximation, relative error < 1.2e-9).
double normal_quantile(double p);

// z_i = Phi^-1((i + 0.5) / 65536): a uniform 16-bit index picks a standard normal value.
const std::vector<double>& quantiles();
inline double max_quantile() { return quantiles().back(); }  // ≈ 4.33

// float -> bf16 bits, round to nearest even (finite inputs only).
std::uint16_t to_bf16(float x);

// float -> e4m3fn byte, round to nearest even, saturating at ±448 (e4m3fn has no infinity and 0x7F/0xFF are NaN:
// never emitted). The code values come from our own decoder, so writer and reader agree by construction.
std::uint8_t to_e4m3(float x);

// Double-buffered: the caller fills one 16 MiB buffer while a second thread writes the other. A set `interrupted`
// flag (Ctrl-C) stops the next flush with dype::Error("interrupted").
class ChunkWriter {
 public:
  static constexpr std::size_t kChunk = 16u << 20;
  ChunkWriter(const std::string& path, const std::atomic<bool>* interrupted);
  ~ChunkWriter();
  ChunkWriter(const ChunkWriter&) = delete;
  ChunkWriter& operator=(const ChunkWriter&) = delete;

  // Room in the current buffer (never 0), and where it starts.
  std::uint8_t* cur() { return buf_[which_].get() + pos_; }
  std::size_t room() const { return kChunk - pos_; }
  void advance(std::size_t n) {
    pos_ += n;
    if (pos_ == kChunk) flush();
  }
  void put(const void* data, std::size_t n);
  // Writes what is buffered and closes the file; throws IoError on a write or close failure (disk full).
  void finish();

 private:
  void flush();
  std::string path_;
  const std::atomic<bool>* interrupted_;
  int fd_ = -1;
  std::unique_ptr<std::uint8_t[]> buf_[2];
  int which_ = 0;
  std::size_t pos_ = 0;
  std::future<void> pending_;
};

// Streams n values of type T drawn through `table` (65,536 pre-encoded values). The buffer position is always a
// multiple of sizeof(T) (file order: widest first; chunk size a multiple of 8).
template <class T>
void stream_values(ChunkWriter& w, std::int64_t n, const std::vector<T>& table, IndexStream& s) {
  const T* tab = table.data();
  while (n > 0) {
    auto* out = reinterpret_cast<T*>(w.cur());
    const std::int64_t k = std::min<std::int64_t>(n, static_cast<std::int64_t>(w.room() / sizeof(T)));
    std::int64_t i = 0;
    while (i < k && s.left > 0) out[i++] = tab[s.one()];
    for (; i + 4 <= k; i += 4) {
      const std::uint64_t r = s.rng.next();
      out[i] = tab[r & 0xFFFF];
      out[i + 1] = tab[(r >> 16) & 0xFFFF];
      out[i + 2] = tab[(r >> 32) & 0xFFFF];
      out[i + 3] = tab[r >> 48];
    }
    while (i < k) out[i++] = tab[s.one()];
    w.advance(static_cast<std::size_t>(k) * sizeof(T));
    n -= k;
  }
}

template <class T>
void stream_constant(ChunkWriter& w, std::int64_t n, T v) {
  std::vector<T> block(4096, v);
  while (n > 0) {
    const std::int64_t k = std::min<std::int64_t>(n, 4096);
    w.put(block.data(), static_cast<std::size_t>(k) * sizeof(T));
    n -= k;
  }
}

}  // namespace dype::bench
