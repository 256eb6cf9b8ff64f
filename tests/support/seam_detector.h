#pragma once
// Seam detector shared by the tiled-decode tests (unit and golden): gradient energy across tile borders against
// the energy across every other latent-cell boundary.
#include <ATen/ATen.h>

#include <vector>

#include "core/vae/tiled_decode.h"

namespace dype::test {

// Mean squared horizontal difference per column boundary x-1|x of an image [B, C, H, W]: W-1 values.
inline std::vector<double> column_energy(const at::Tensor& img) {
  at::Tensor d = img.narrow(3, 1, img.size(3) - 1) - img.narrow(3, 0, img.size(3) - 1);  // [B, C, H, W-1]
  at::Tensor e = d.to(at::kDouble).pow(2).mean({0, 1, 2});                               // [W-1]
  return std::vector<double>(e.data_ptr<double>(), e.data_ptr<double>() + e.numel());
}

// Seam detector: mean gradient energy across the column boundaries where a tile starts or ends (inside the
// image) divided by the mean across all other boundaries between latent cells (columns x-1|x with x a multiple
// of f). Comparing like with like matters: nearest-neighbour upsampling makes the energy depend on the column's
// phase modulo f, and tile borders always fall on cell boundaries. A hard seam raises the ratio; ~1 = no trace.
inline double seam_ratio(const at::Tensor& img, const std::vector<vae::TileSpan>& cols, int f) {
  const auto e = column_energy(img);
  std::vector<int> kind(e.size(), 0);  // 0: not a cell boundary, 1: cell boundary, 2: tile border
  for (std::size_t x = f; x < e.size() + 1; x += f) kind[x - 1] = 1;
  for (const auto& s : cols) {
    if (s.begin > 0) kind[s.begin * f - 1] = 2;
    if (s.end * f < img.size(3)) kind[s.end * f - 1] = 2;
  }
  double sb = 0, so = 0;
  int nb = 0, no = 0;
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (kind[i] == 2) sb += e[i], ++nb;
    if (kind[i] == 1) so += e[i], ++no;
  }
  return nb && no ? (sb / nb) / (so / no) : 1.0;
}

}  // namespace dype::test
