#pragma once
// The value types around a FluxPipeline: where the weights are (ModelPaths), where they compute (ComputeTarget), how
// to load them (LoadOptions, TextEncoderPolicy) and what a request will cost (MemoryEstimate). Apart from
// flux_pipeline.h so that the memory plan, the model footprint and the front ends can name them without the pipeline
// class.
#include <cstdint>
#include <string>

namespace dype {

// Where the weights are. `model` is a diffusers folder (model_index.json), a BFL/ComfyUI transformer
// .safetensors file, "demo" (built-in model trained on procedural shapes) or "demo-random" (random weights). For
// single files the other components are given explicitly or discovered beside the transformer file.
struct ModelPaths {
  std::string model = "demo";  // the built-in trained demo (resources/demo/trained; README "The demo model")
  std::string demo_weights;    // "demo" only: a `dype train-demo` weights file instead of the built-in copy
  std::string vae;             // ae.safetensors
  std::string clip;            // clip_l.safetensors
  std::string t5;              // t5xxl_*.safetensors
  std::string tokenizers;      // folder holding tokenizer/ (vocab.json, merges.txt) and tokenizer_2/ (spiece.model)
};

// What happens to the text encoders after a prompt is encoded. Auto: they stay loaded only when everything fits
// in half of the free memory (releasing costs little: the encoded prompt is cached, and a reload maps files that
// are usually still in the page cache); Release: always freed; Keep: never.
enum class TextEncoderPolicy { Auto, Release, Keep };
const char* text_encoder_policy_name(TextEncoderPolicy p);          // "auto", "release", "keep"
TextEncoderPolicy parse_text_encoder_policy(const std::string& s);  // InvalidArgument listing the valid names

// Where a model computes, as the user names it: the device of the transformer and VAE ("cpu", "cuda", "cuda:1")
// and the transformer's compute dtype ("float32" | "bfloat16" | "float16"). Chosen once, when the model is loaded
// (LoadOptions::target): a request does not name it, and a result records the one it was computed with
// (GenerationResult::target). parse_device / parse_compute_dtype (components.h) check and resolve it.
struct ComputeTarget {
  std::string device = "cpu";
  std::string dtype = "float32";
  bool operator==(const ComputeTarget& o) const { return device == o.device && dtype == o.dtype; }
  bool operator!=(const ComputeTarget& o) const { return !(*this == o); }
};

struct LoadOptions {
  ComputeTarget target;
  bool text_encoders_on_cpu = true;  // encode on CPU, keep the GPU for the transformer
  TextEncoderPolicy text_encoders = TextEncoderPolicy::Auto;
  std::uint64_t max_pixels = 4096ull * 4096ull;  // largest width × height generate() accepts (RequestLimits)
  std::uint64_t max_memory_bytes = 0;  // budget on the compute device (0: what it has free); --max-memory/--max-vram
  double flops_per_second = 0;         // measured matmul throughput for the time estimate (0: unknown)
  double convert_elements_per_second = 0;  // measured per-layer weight conversion speed (0: unknown)
};

struct MemoryEstimate {
  std::uint64_t weights_bytes = 0;       // resident weights on the compute device during denoising
  std::uint64_t activations_bytes = 0;   // transformer activations at the requested size (+ one layer's weight)
  std::uint64_t decode_bytes = 0;        // tiled VAE decode working set
  std::uint64_t image_encode_bytes = 0;  // img2img / refine: the picture and the tiled VAE encode working set
  std::uint64_t text_bytes = 0;          // text encoder weights while encoding
  std::uint64_t encode_bytes = 0;        // peak of the encoding phase (text weights + T5 working set)
  bool release_text_encoders = false;    // the plan frees the text encoders after encoding
  std::uint64_t peak_bytes = 0;
  std::uint64_t available_bytes = 0;  // free memory on the device, or the budget asked for (0 = unknown)
  bool fits = true;
  std::string advice;           // what to change when it does not fit
  double seconds_per_step = 0;  // estimate at the output size from measured throughput (0 = unknown)
  double seconds_total = 0;     // every pass's steps at its size + text encoding (0 = unknown)
};

}  // namespace dype
