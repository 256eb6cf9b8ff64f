#include "ui/png_io.h"

#include <exception>

#include "core/common/error.h"
#include "core/pipeline/request_metadata.h"

namespace dype::ui {

QString savePng(const QString& path, const dype::GenerationResult& result, int bitDepth) {
  if (bitDepth == 16 && result.image.rgb16.empty())
    return QObject::tr("This result has no 16-bit data; save it as 8-bit PNG.");
  try {
    dype::export_png(path.toStdString(), result, bitDepth, DYPE_VERSION);
    return {};
  } catch (const std::exception& e) {
    return QObject::tr("Could not save %1: %2").arg(path, QString::fromUtf8(e.what()));
  }
}

std::optional<dype::GenerationRequest> readRequestFromPng(const QString& path, QString* error) {
  try {
    return dype::read_request_from_png(path.toStdString());
  } catch (const dype::FormatError& e) {
    if (error) *error = QObject::tr("%1 holds no DyPE Studio settings (%2).").arg(path, QString::fromUtf8(e.what()));
  } catch (const std::exception& e) {
    if (error) *error = QObject::tr("Could not read %1: %2").arg(path, QString::fromUtf8(e.what()));
  }
  return std::nullopt;
}

}  // namespace dype::ui
