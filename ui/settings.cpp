#include "ui/settings.h"

#include <QFileInfo>
#include <QSettings>
#include <QStringList>
#include <array>
#include <cmath>
#include <exception>

namespace dype::ui {
namespace {

constexpr int kVersion = 1;

// Every key of the settings file, in one table: its name in the file, its type and its default. The getters read
// through value(), which checks the type (and an int's range) and falls back to the default, so no getter repeats
// a key string or a validation rule.
enum class Type { String, Bool, Int, Bytes };
struct KeySpec {
  Settings::Key key;
  const char* name;  // "group/name"; a Bytes key used with a suffix (splitters) is a prefix
  Type type;
  const char* defaultValue;  // as text: "" for strings and bytes, "true"/"false", a decimal int
  int lo = 0, hi = 0;        // Int only: the accepted range
};

using K = Settings::Key;
constexpr std::array<KeySpec, int(K::Count)> kKeys{{
    {K::Version, "settings/version", Type::Int, "1", 1, 1000},
    {K::ModelSource, "model/source", Type::String, ""},
    {K::ModelDiffusersFolder, "model/diffusersFolder", Type::String, ""},
    {K::ModelTransformer, "model/transformer", Type::String, ""},
    {K::ModelVae, "model/vae", Type::String, ""},
    {K::ModelClip, "model/clip", Type::String, ""},
    {K::ModelT5, "model/t5", Type::String, ""},
    {K::ModelTokenizers, "model/tokenizers", Type::String, ""},
    {K::ModelDevice, "model/device", Type::String, ""},
    {K::ModelDtype, "model/dtype", Type::String, ""},
    {K::ModelMaxMemoryMiB, "model/maxMemoryMiB", Type::Int, "0", 0, 1 << 22},
    {K::LastRequest, "request/last", Type::String, ""},
    {K::RandomSeed, "request/randomSeed", Type::Bool, "true"},
    {K::DypePreset, "request/dypePreset", Type::String, "custom"},
    {K::PreviewEvery, "preview/every", Type::Int, "1", 0, Settings::kMaxPreviewEvery},
    {K::ExportBitDepth, "export/bitDepth", Type::Int, "8", 8, 16},
    {K::LastDirectory, "export/lastDirectory", Type::String, ""},
    {K::WindowGeometry, "window/geometry", Type::Bytes, ""},
    {K::WindowState, "window/state", Type::Bytes, ""},
    {K::SplitterState, "window/splitter_", Type::Bytes, ""},
}};

constexpr bool tableInKeyOrder() {
  for (std::size_t i = 0; i < kKeys.size(); ++i)
    if (int(kKeys[i].key) != int(i)) return false;
  return true;
}
static_assert(tableInKeyOrder(), "kKeys must list every Settings::Key once, in declaration order");

const KeySpec& spec(K key) { return kKeys[std::size_t(key)]; }

QString keyName(K key, const QString& suffix = {}) { return QLatin1String(spec(key).name) + suffix; }

QVariant defaultOf(const KeySpec& k) {
  const QString text = QLatin1String(k.defaultValue);
  switch (k.type) {
    case Type::Bool: return text == QLatin1String("true");
    case Type::Int: return text.toInt();
    case Type::Bytes: return QByteArray();
    case Type::String: break;
  }
  return text;
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

Settings::~Settings() { sync(); }

QString Settings::fileName() const { return m_settings->fileName(); }

QString Settings::keyName(Key key) { return dype::ui::keyName(key); }

QVariant Settings::value(Key key, const QString& suffix) const {
  const KeySpec& k = spec(key);
  const QVariant fallback = defaultOf(k);
  const QVariant v = m_settings->value(dype::ui::keyName(key, suffix));
  if (!v.isValid()) return fallback;
  switch (k.type) {
    case Type::String: return v.canConvert<QString>() ? QVariant(v.toString()) : fallback;
    case Type::Bool: {
      const QString t = v.toString().trimmed().toLower();
      if (t == QLatin1String("true") || t == QLatin1String("1")) return true;
      if (t == QLatin1String("false") || t == QLatin1String("0")) return false;
      return fallback;
    }
    case Type::Int: {
      bool ok = false;
      const int i = v.toInt(&ok);
      return ok && i >= k.lo && i <= k.hi ? QVariant(i) : fallback;
    }
    case Type::Bytes: return v.typeId() == QMetaType::QByteArray ? v : fallback;
  }
  return fallback;
}

void Settings::setValue(Key key, const QVariant& value, const QString& suffix) {
  m_settings->setValue(dype::ui::keyName(key, suffix), value);
}

ModelChoice Settings::modelChoice() const {
  ModelChoice c;
  c.source = ModelChoice::parseSource(value(Key::ModelSource).toString());
  c.diffusersFolder = value(Key::ModelDiffusersFolder).toString();
  c.transformerFile = value(Key::ModelTransformer).toString();
  c.vaeFile = value(Key::ModelVae).toString();
  c.clipFile = value(Key::ModelClip).toString();
  c.t5File = value(Key::ModelT5).toString();
  c.tokenizerFolder = value(Key::ModelTokenizers).toString();
  const QString device = value(Key::ModelDevice).toString();
  if (isDevice(device)) c.device = device;
  const QString dtype = value(Key::ModelDtype).toString();
  if (isDtype(dtype)) c.dtype = dtype;
  c.maxMemoryMiB = value(Key::ModelMaxMemoryMiB).toInt();
  return c;
}

void Settings::setModelChoice(const ModelChoice& c) {
  setValue(Key::ModelSource, ModelChoice::sourceName(c.source));
  setValue(Key::ModelDiffusersFolder, c.diffusersFolder);
  setValue(Key::ModelTransformer, c.transformerFile);
  setValue(Key::ModelVae, c.vaeFile);
  setValue(Key::ModelClip, c.clipFile);
  setValue(Key::ModelT5, c.t5File);
  setValue(Key::ModelTokenizers, c.tokenizerFolder);
  setValue(Key::ModelDevice, c.device);
  setValue(Key::ModelDtype, c.dtype);
  setValue(Key::ModelMaxMemoryMiB, c.maxMemoryMiB);
}

dype::GenerationRequest Settings::lastRequest() const {
  const QString text = value(Key::LastRequest).toString();
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
  setValue(Key::LastRequest, QString::fromStdString(request.to_json().dump()));
}

bool Settings::randomSeed() const { return value(Key::RandomSeed).toBool(); }
void Settings::setRandomSeed(bool on) { setValue(Key::RandomSeed, on); }

QString Settings::dypePreset() const { return value(Key::DypePreset).toString(); }
void Settings::setDypePreset(const QString& name) { setValue(Key::DypePreset, name); }

int Settings::previewEvery() const { return value(Key::PreviewEvery).toInt(); }
void Settings::setPreviewEvery(int steps) { setValue(Key::PreviewEvery, steps); }

int Settings::exportBitDepth() const { return value(Key::ExportBitDepth).toInt() == 16 ? 16 : 8; }
void Settings::setExportBitDepth(int bits) { setValue(Key::ExportBitDepth, bits); }

QString Settings::lastDirectory() const {
  const QString dir = value(Key::LastDirectory).toString();
  return QFileInfo(dir).isDir() ? dir : QString();
}
void Settings::setLastDirectory(const QString& dir) { setValue(Key::LastDirectory, dir); }

QByteArray Settings::windowGeometry() const { return value(Key::WindowGeometry).toByteArray(); }
void Settings::setWindowGeometry(const QByteArray& g) { setValue(Key::WindowGeometry, g); }
QByteArray Settings::windowState() const { return value(Key::WindowState).toByteArray(); }
void Settings::setWindowState(const QByteArray& st) { setValue(Key::WindowState, st); }

QByteArray Settings::splitterState(const QString& name) const { return value(Key::SplitterState, name).toByteArray(); }
void Settings::setSplitterState(const QString& name, const QByteArray& state) {
  setValue(Key::SplitterState, state, name);
}

void Settings::sync() {
  setValue(Key::Version, kVersion);
  m_settings->sync();
}

bool isPlausibleRequest(const dype::GenerationRequest& r, QString* reason) {
  auto fail = [&](const QString& why) {
    if (reason) *reason = why;
    return false;
  };
  if (r.width < 16 || r.height < 16 || r.width % 16 || r.height % 16 || r.width > 16384 || r.height > 16384)
    return fail(QStringLiteral("size %1x%2 is not a multiple of 16 within 16..16384 px").arg(r.width).arg(r.height));
  const dype::RequestLimits limits;  // the pipeline's own step limits (core/pipeline/generation_request.h)
  if (r.steps < limits.min_steps || r.steps > limits.max_steps)
    return fail(QStringLiteral("steps %1 outside %2..%3").arg(r.steps).arg(limits.min_steps).arg(limits.max_steps));
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
