#include "bench/checkpoint_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/common/error.h"
#include "core/io/dtype.h"

namespace dype::bench {

Xoshiro256::Xoshiro256(std::uint64_t seed) {
  for (auto& x : s) {
    seed += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    x = z ^ (z >> 31);
  }
}

std::uint64_t hash_name(const std::string& s, std::uint64_t seed) {
  std::uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

double normal_quantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double lo = 0.02425;
  if (p < lo) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normal_quantile(1 - p);
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

const std::vector<double>& quantiles() {
  static const std::vector<double> z = [] {
    std::vector<double> v(65536);
    for (int i = 0; i < 65536; ++i) v[i] = normal_quantile((i + 0.5) / 65536.0);
    return v;
  }();
  return z;
}

std::uint16_t to_bf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7FFF + ((u >> 16) & 1);
  return static_cast<std::uint16_t>(u >> 16);
}

std::uint8_t to_e4m3(float x) {
  static const std::vector<float> pos = [] {  // value of codes 0x00..0x7E, increasing
    std::vector<float> v(0x7F);
    for (int c = 0; c < 0x7F; ++c) v[c] = dype::io::float8_e4m3_to_float(static_cast<std::uint8_t>(c));
    return v;
  }();
  const std::uint8_t sign = std::signbit(x) ? 0x80 : 0;
  const float a = std::fabs(x);
  std::uint8_t code;
  if (a >= pos.back()) {
    code = 0x7E;
  } else {
    // largest code with value <= a, then the nearer of it and the next one (tie: even code = even mantissa)
    const auto c = static_cast<int>(std::upper_bound(pos.begin(), pos.end(), a) - pos.begin()) - 1;
    const float lo = a - pos[c], hi = pos[c + 1] - a;
    code = static_cast<std::uint8_t>(lo < hi || (lo == hi && c % 2 == 0) ? c : c + 1);
  }
  return static_cast<std::uint8_t>(sign | code);
}

ChunkWriter::ChunkWriter(const std::string& path, const std::atomic<bool>* interrupted)
    : path_(path), interrupted_(interrupted) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw dype::IoError("cannot create '" + path + "': " + std::strerror(errno));
  for (auto& b : buf_) b.reset(new std::uint8_t[kChunk]);
}

ChunkWriter::~ChunkWriter() {
  if (pending_.valid()) pending_.wait();
  if (fd_ >= 0) ::close(fd_);
}

void ChunkWriter::put(const void* data, std::size_t n) {
  auto* p = static_cast<const std::uint8_t*>(data);
  while (n > 0) {
    const std::size_t k = std::min(n, room());
    std::memcpy(cur(), p, k);
    p += k;
    n -= k;
    advance(k);
  }
}

void ChunkWriter::finish() {
  flush();
  if (pending_.valid()) pending_.get();
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw dype::IoError("cannot finish writing '" + path_ + "': " + std::strerror(errno));
}

void ChunkWriter::flush() {
  if (pending_.valid()) pending_.get();  // rethrows a write error (disk full) from the writer thread
  if (interrupted_ && interrupted_->load()) throw dype::Error("interrupted");
  const std::uint8_t* data = buf_[which_].get();
  const std::size_t n = pos_;
  pending_ = std::async(std::launch::async, [this, data, n] {
    std::size_t done = 0;
    while (done < n) {
      const ssize_t w = ::write(fd_, data + done, n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) throw dype::IoError("cannot write '" + path_ + "': " + std::strerror(w < 0 ? errno : ENOSPC));
      done += static_cast<std::size_t>(w);
    }
  });
  which_ ^= 1;
  pos_ = 0;
}

}  // namespace dype::bench
