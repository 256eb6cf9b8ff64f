#pragma once
// The training loss curves as a picture (the model card's "loss curve"): one panel per phase (autoencoder,
// transformer), the loss on a log scale against the step, with numbered ticks. Drawn here, with a tiny built-in
// digit font, so that the trainer needs no plotting library.
#include <string>
#include <vector>

#include "core/image/rgb_image.h"

namespace dype::train {

struct LossPoint {
  double step = 0, loss = 0;
};

struct LossCurves {
  std::vector<LossPoint> autoencoder, transformer;
};

// Reads a trainer's loss.csv (phase,step,loss,lr,seconds). Throws IoError / FormatError naming the file and line.
LossCurves read_loss_csv(const std::string& path);

// 1000 × 360 px: two panels side by side. Empty curves leave their panel blank.
RgbImage plot_losses(const LossCurves& curves);

}  // namespace dype::train
