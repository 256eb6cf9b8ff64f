#pragma once
// Kept apart from demo_model.h so that the trainer's options (core/train/demo_trainer.h) can name it without
// pulling in ATen.

namespace dype {

// The trained demo transformer's size, which `dype train-demo` may change and writes into the weights file's metadata
// ("hidden_size", "num_heads", "depth", "depth_single_blocks", "theta"; files without them have these defaults).
struct DemoTransformerShape {
  int hidden_size = 128;
  int num_heads = 2;
  int depth = 2;                // double-stream blocks
  int depth_single_blocks = 4;  // single-stream blocks
  // RoPE base. FLUX's 10000 spreads its frequencies over position counts of ~100 tokens per side; over the 8 token
  // rows of a 128 px picture most of them barely turn.
  double theta = 10000.0;
  bool operator==(const DemoTransformerShape& o) const {
    return hidden_size == o.hidden_size && num_heads == o.num_heads && depth == o.depth &&
           depth_single_blocks == o.depth_single_blocks && theta == o.theta;
  }
};

}  // namespace dype
