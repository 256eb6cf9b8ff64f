// libFuzzer target: the safetensors reader on arbitrary bytes. The input is a whole file image (8-byte length,
// header, data). Every input goes through SafetensorsFile::parse_header; inputs whose header parses are also
// opened as a real file (memfd) and every tensor is materialised, as a loader would. The only acceptable
// outcome besides success is dype::FormatError; any other exception, crash, sanitizer report or broken
// invariant is a finding.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "core/common/error.h"
#include "core/io/dtype.h"
#include "core/io/safetensors.h"

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    __builtin_trap();
  }
}

void open_as_file(const std::uint8_t* data, std::size_t size) {
  const int fd = memfd_create("fuzz.safetensors", MFD_CLOEXEC);
  if (fd < 0) return;
  if (::write(fd, data, size) != static_cast<ssize_t>(size)) {
    ::close(fd);
    return;
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    auto f = dype::io::SafetensorsFile::open(path);
    for (const auto& t : f->tensors()) {
      const at::Tensor v = f->tensor(t.name, at::kFloat);
      check(v.numel() == t.numel(), "materialised element count");
      check(f->raw_bytes(t.name).numel() == static_cast<std::int64_t>(t.nbytes()), "raw byte count");
    }
  } catch (const dype::FormatError&) {
  }
  ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  std::uint64_t n = 0;
  std::memcpy(&n, data, 8);
  // Lengths that open() rejects before parsing are folded into range, so every input exercises the parser.
  if (n > size - 8) n = size - 8;
  const std::uint64_t data_size = size - 8 - n;
  std::map<std::string, std::string> meta;
  bool parsed = false;
  try {
    const auto infos =
        dype::io::SafetensorsFile::parse_header(reinterpret_cast<const char*>(data) + 8, n, data_size, "fuzz", &meta);
    parsed = true;
    std::string previous;
    for (const auto& t : infos) {
      check(t.begin <= t.end && t.end <= data_size, "offsets inside the data section");
      check(t.nbytes() == static_cast<std::uint64_t>(t.numel()) * dype::io::dtype_size(t.dtype),
            "size = dtype x shape");
      check(t.shape.size() <= dype::io::SafetensorsFile::kMaxRank, "rank bound");
      check(previous.empty() || previous < t.name, "sorted unique names");
      previous = t.name;
    }
  } catch (const dype::FormatError&) {
  }
  if (parsed && size < (1u << 20)) open_as_file(data, size);
  return 0;
}
