#pragma once
// Generation settings embedded in exported images, and read back from them (the GUI's drag-and-drop restore).
//   - `parameters` (tEXt, or iTXt when not Latin-1): the A1111 / Forge / Civitai text form, first the prompt, then
//     one line "Steps: 28, Sampler: Euler, Schedule type: Simple, CFG scale: 1, Distilled CFG Scale: 3.5,
//     Seed: 42, Size: 4096x4096, Model: …, DyPE: yarn λs=2 λt=2 base=1024, …, Version: DyPE Studio 0.1.0".
//   - `dype_studio` (iTXt): our exact JSON {"app", "version", "request": GenerationRequest::to_json(), "model",
//     "mu", "sigmas", "timings", ...}; reading prefers it over the A1111 text.
#include <map>
#include <string>
#include <vector>

#include "core/image/png_export.h"
#include "core/pipeline/generation_request.h"

namespace dype {

inline constexpr const char* kPngJsonKey = "dype_studio";

// The A1111 `parameters` text of a result: its request, model, dtype and μ as used (when the run shifted).
std::string a1111_parameters(const GenerationResult& result, const std::string& version);

// The text chunks written with a result's image.
std::vector<image::PngText> png_metadata(const GenerationResult& result, const std::string& version);

// Writes result.image as PNG (bit_depth 8 or 16; see image::write_png for the failure guarantees).
void export_png(const std::string& path, const GenerationResult& result, int bit_depth, const std::string& version);

// The request stored in PNG text chunks: from `dype_studio` when present, else parsed from an A1111
// `parameters` text (prompt, steps, seed, size, guidance; the rest keeps its defaults). Throws FormatError when
// neither is there or they cannot be parsed.
GenerationRequest request_from_png_text(const std::map<std::string, std::string>& text);
// Same, reading the chunks of the PNG at `path` (IoError / FormatError).
GenerationRequest read_request_from_png(const std::string& path);
// The LoRA files of a restored request that are not on this machine (at their recorded path); the GUI warns and
// the run then fails to load them, so the user can fix the path first.
std::vector<std::string> missing_lora_files(const GenerationRequest& request);

}  // namespace dype
