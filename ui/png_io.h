#pragma once
// Export and restore through core/image: a result saved as PNG (8 or 16 bits) with the generation's metadata,
// and a request read back from such a PNG (drag and drop onto the window).
#include <QObject>
#include <QString>
#include <optional>

#include "core/pipeline/generation_request.h"

namespace dype::ui {

// Writes `result` to `path` (temporary file renamed into place by core). Returns an empty string on success,
// otherwise a message for the user.
QString savePng(const QString& path, const dype::GenerationResult& result, int bitDepth);

// The request stored in a PNG written by DyPE Studio or `dype generate`; nullopt with `error` set otherwise.
std::optional<dype::GenerationRequest> readRequestFromPng(const QString& path, QString* error);

}  // namespace dype::ui
