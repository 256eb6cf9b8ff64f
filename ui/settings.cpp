#include "ui/settings.h"

#include <QFileInfo>
#include <QSettings>
#include <QStringList>
#include <cmath>
#include <exception>

namespace dype::ui {
namespace {

const QString kVersionKey = QStringLiteral("settings/version");
constexpr int kVersion = 1;

QString readString(const QSettings& s, const QString& key, const QString& fallback = {}) {
  const QVariant v = s.value(key);
  if (!v.isValid() || !v.canConvert<QString>()) return fallback;
  return v.toString();
}

int readInt(const QSettings& s, const QString& key, int fallback, int lo, int hi) {
  bool ok = false;
  const int v = s.value(key).toInt(&ok);
  return ok && v >= lo && v <= hi ? v : fallback;
}

bool readBool(const QSettings& s, const QString& key, bool fallback) {
  const QString v = readString(s, key).trimmed().toLower();
  if (v == QLatin1String("true") || v == QLatin1String("1")) return true;
  if (v == QLatin1String("false") || v == QLatin1String("0")) return false;
  return fallback;
}

QByteArray readBytes(const QSettings& s, const QString& key) {
  const QVariant v = s.value(key);
  return v.typeId() == QMetaType::QByteArray ? v.toByteArray() : QByteArray();
}

bool isDevice(const QString& d) {
  if (d == QLatin1String("cpu") || d == QLatin1String("cuda")) return true;
  if (!d.startsWith(QLatin1String("cuda:"))) return false;
  bool ok = false;
  const int index = d.mid(5).toInt(&ok);
  return ok && index >= 0 && index < 64;
}

bool isDtype(const QString& d) {
  return d == QLatin1String("float32") || d == QLatin1String("bfloat16") || d == QLatin1String("float16");
}

}  // namespace

Settings::Settings()
    : m_settings(std::make_unique<QSettings>(QSettings::IniFormat, QSettings::UserScope, QStringLiteral("dype"),
                                             QStringLiteral("dype-studio"))) {
  m_corrupt = m_settings->status() != QSettings::NoError;
}

Settings::Settings(const QString& iniPath) : m_settings(std::make_unique<QSettings>(iniPath, QSettings::IniFormat)) {
  m_corrupt = m_settings->status() != QSettings::NoError;
}

Settings::~Settings() {
  m_settings->setValue(kVersionKey, kVersion);
  m_settings->sync();
}

QString Settings::fileName() const { return m_settings->fileName(); }

ModelChoice Settings::modelChoice() const {
  const QSettings& s = *m_settings;
  ModelChoice c;
  c.source = ModelChoice::parseSource(readString(s, QStringLiteral("model/source")));
  c.diffusersFolder = readString(s, QStringLiteral("model/diffusersFolder"));
  c.transformerFile = readString(s, QStringLiteral("model/transformer"));
  c.vaeFile = readString(s, QStringLiteral("model/vae"));
  c.clipFile = readString(s, QStringLiteral("model/clip"));
  c.t5File = readString(s, QStringLiteral("model/t5"));
  c.tokenizerFolder = readString(s, QStringLiteral("model/tokenizers"));
  const QString device = readString(s, QStringLiteral("model/device"));
  if (isDevice(device)) c.device = device;
  const QString dtype = readString(s, QStringLiteral("model/dtype"));
  if (isDtype(dtype)) c.dtype = dtype;
  return c;
}

void Settings::setModelChoice(const ModelChoice& c) {
  QSettings& s = *m_settings;
  s.setValue(QStringLiteral("model/source"), ModelChoice::sourceName(c.source));
  s.setValue(QStringLiteral("model/diffusersFolder"), c.diffusersFolder);
  s.setValue(QStringLiteral("model/transformer"), c.transformerFile);
  s.setValue(QStringLiteral("model/vae"), c.vaeFile);
  s.setValue(QStringLiteral("model/clip"), c.clipFile);
  s.setValue(QStringLiteral("model/t5"), c.t5File);
  s.setValue(QStringLiteral("model/tokenizers"), c.tokenizerFolder);
  s.setValue(QStringLiteral("model/device"), c.device);
  s.setValue(QStringLiteral("model/dtype"), c.dtype);
}

dype::GenerationRequest Settings::lastRequest() const {
  const QString text = readString(*m_settings, QStringLiteral("request/last"));
  if (text.isEmpty()) return {};
  try {
    const auto json = nlohmann::json::parse(text.toStdString());
    dype::GenerationRequest r = dype::GenerationRequest::from_json(json);
    if (!isPlausibleRequest(r)) return {};
    return r;
  } catch (const std::exception&) {
    return {};  // unparsable JSON or a bad enum name: the defaults, as promised
  }
}

void Settings::setLastRequest(const dype::GenerationRequest& request) {
  m_settings->setValue(QStringLiteral("request/last"), QString::fromStdString(request.to_json().dump()));
}

bool Settings::randomSeed() const { return readBool(*m_settings, QStringLiteral("request/randomSeed"), true); }
void Settings::setRandomSeed(bool on) { m_settings->setValue(QStringLiteral("request/randomSeed"), on); }

int Settings::previewEvery() const {
  return readInt(*m_settings, QStringLiteral("preview/every"), 1, 0, kMaxPreviewEvery);
}
void Settings::setPreviewEvery(int steps) { m_settings->setValue(QStringLiteral("preview/every"), steps); }

int Settings::exportBitDepth() const {
  const int bits = readInt(*m_settings, QStringLiteral("export/bitDepth"), 8, 8, 16);
  return bits == 16 ? 16 : 8;
}
void Settings::setExportBitDepth(int bits) { m_settings->setValue(QStringLiteral("export/bitDepth"), bits); }

QString Settings::lastDirectory() const {
  const QString dir = readString(*m_settings, QStringLiteral("export/lastDirectory"));
  return QFileInfo(dir).isDir() ? dir : QString();
}
void Settings::setLastDirectory(const QString& dir) {
  m_settings->setValue(QStringLiteral("export/lastDirectory"), dir);
}

QByteArray Settings::windowGeometry() const { return readBytes(*m_settings, QStringLiteral("window/geometry")); }
void Settings::setWindowGeometry(const QByteArray& g) { m_settings->setValue(QStringLiteral("window/geometry"), g); }
QByteArray Settings::windowState() const { return readBytes(*m_settings, QStringLiteral("window/state")); }
void Settings::setWindowState(const QByteArray& st) { m_settings->setValue(QStringLiteral("window/state"), st); }

QByteArray Settings::splitterState(const QString& name) const {
  return readBytes(*m_settings, QStringLiteral("window/splitter_") + name);
}
void Settings::setSplitterState(const QString& name, const QByteArray& state) {
  m_settings->setValue(QStringLiteral("window/splitter_") + name, state);
}

void Settings::sync() {
  m_settings->setValue(kVersionKey, kVersion);
  m_settings->sync();
}

bool isPlausibleRequest(const dype::GenerationRequest& r, QString* reason) {
  auto fail = [&](const QString& why) {
    if (reason) *reason = why;
    return false;
  };
  if (r.width < 16 || r.height < 16 || r.width % 16 || r.height % 16 || r.width > 16384 || r.height > 16384)
    return fail(QStringLiteral("size %1x%2 is not a multiple of 16 within 16..16384 px").arg(r.width).arg(r.height));
  if (r.steps < 1 || r.steps > 1000) return fail(QStringLiteral("steps %1 outside 1..1000").arg(r.steps));
  if (!std::isfinite(r.guidance) || r.guidance < 0 || r.guidance > 100)
    return fail(QStringLiteral("guidance %1 outside 0..100").arg(r.guidance));
  const auto& d = r.dype;
  if (!std::isfinite(d.lambda_s) || !std::isfinite(d.lambda_t) || d.lambda_s < 0 || d.lambda_t < 0 ||
      d.lambda_s > 100 || d.lambda_t > 100)
    return fail(QStringLiteral("DyPE strength/exponent outside 0..100"));
  if (d.base_resolution < 16 || d.base_resolution % 16 || d.base_resolution > 16384)
    return fail(QStringLiteral("base resolution %1 is not a multiple of 16").arg(d.base_resolution));
  if (!std::isfinite(r.shift_mu) || !std::isfinite(r.base_shift) || !std::isfinite(r.max_shift))
    return fail(QStringLiteral("time shift values are not finite"));
  if (r.preview_every < 0 || r.preview_every > Settings::kMaxPreviewEvery)
    return fail(QStringLiteral("preview cadence %1 out of range").arg(r.preview_every));
  return true;
}

}  // namespace dype::ui
