#include "core/pipeline/pipeline_types.h"

#include "core/common/error.h"

namespace dype {

const char* text_encoder_policy_name(TextEncoderPolicy p) {
  switch (p) {
    case TextEncoderPolicy::Auto: return "auto";
    case TextEncoderPolicy::Release: return "release";
    case TextEncoderPolicy::Keep: return "keep";
  }
  return "auto";
}

TextEncoderPolicy parse_text_encoder_policy(const std::string& s) {
  for (auto p : {TextEncoderPolicy::Auto, TextEncoderPolicy::Release, TextEncoderPolicy::Keep})
    if (s == text_encoder_policy_name(p)) return p;
  throw InvalidArgument("text encoder policy '" + s + "' is not one of auto, release, keep");
}

}  // namespace dype
