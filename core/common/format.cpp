#include "core/common/format.h"

#include <cstdio>
#include <sstream>

namespace dype {

std::string format_bytes(std::uint64_t bytes) {
  char buf[32];
  const double b = static_cast<double>(bytes);
  constexpr double kKiB = 1024.0, kMiB = kKiB * 1024, kGiB = kMiB * 1024, kTiB = kGiB * 1024;
  // Whole KiB / MiB are precise enough for plans and reports; GiB and TiB keep one decimal (22.2 GiB vs 22 GiB
  // is a different FLUX checkpoint).
  if (b >= kTiB)
    std::snprintf(buf, sizeof(buf), "%.1f TiB", b / kTiB);
  else if (b >= kGiB)
    std::snprintf(buf, sizeof(buf), "%.1f GiB", b / kGiB);
  else if (b >= kMiB)
    std::snprintf(buf, sizeof(buf), "%.0f MiB", b / kMiB);
  else if (b >= kKiB)
    std::snprintf(buf, sizeof(buf), "%.0f KiB", b / kKiB);
  else
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  return buf;
}

std::string shape_str(c10::IntArrayRef shape) {
  std::ostringstream os;
  os << shape;  // c10's own form: "[1, 16, 128, 128]"
  return os.str();
}

}  // namespace dype
