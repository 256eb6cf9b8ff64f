#pragma once
// Settings: the one typed place over QSettings. Every getter validates what it reads and falls back to the default
// for a missing, unreadable or out-of-range value, so a corrupt settings file never breaks the app.
#include <QByteArray>
#include <QString>
#include <QVariant>
#include <memory>

#include "core/pipeline/generation_request.h"
#include "ui/model_choice.h"

class QSettings;

namespace dype::ui {

class Settings {
 public:
  Settings();                                 // the user's settings file (INI, per-user location)
  explicit Settings(const QString& iniPath);  // a given file (tests, screenshots, portable setups)
  ~Settings();
  Settings(const Settings&) = delete;
  Settings& operator=(const Settings&) = delete;

  // Every key of the file; the table in settings.cpp gives each its name, type and default.
  enum class Key {
    Version,
    ModelSource,
    ModelDiffusersFolder,
    ModelTransformer,
    ModelVae,
    ModelClip,
    ModelT5,
    ModelTokenizers,
    ModelDevice,
    ModelDtype,
    ModelMaxMemoryMiB,
    LastRequest,
    RandomSeed,
    DypePreset,
    PreviewEvery,
    ExportBitDepth,
    LastDirectory,
    WindowGeometry,
    WindowState,
    SplitterState,  // + the splitter's name
    Count
  };
  // The stored value checked against the key's type (and range), or the key's default.
  QVariant value(Key key, const QString& suffix = {}) const;
  void setValue(Key key, const QVariant& value, const QString& suffix = {});
  static QString keyName(Key key);  // "model/device"

  QString fileName() const;
  // True when the file existed but could not be parsed; the values then come from the defaults.
  bool wasCorrupt() const { return m_corrupt; }

  ModelChoice modelChoice() const;
  void setModelChoice(const ModelChoice& choice);

  // The request of the last run (or the last state of the controls); default request when missing or invalid.
  dype::GenerationRequest lastRequest() const;
  void setLastRequest(const dype::GenerationRequest& request);

  bool randomSeed() const;
  void setRandomSeed(bool on);

  // DypePreset name ("auto", "paper", …); default "custom": the last request's DyPE values are kept as they are.
  QString dypePreset() const;
  void setDypePreset(const QString& name);

  int previewEvery() const;  // steps between live previews, 0 = off; default 1
  void setPreviewEvery(int steps);

  int exportBitDepth() const;  // 8 or 16
  void setExportBitDepth(int bits);

  QString lastDirectory() const;
  void setLastDirectory(const QString& dir);

  QByteArray windowGeometry() const;
  void setWindowGeometry(const QByteArray& geometry);
  QByteArray windowState() const;
  void setWindowState(const QByteArray& state);
  QByteArray splitterState(const QString& name) const;
  void setSplitterState(const QString& name, const QByteArray& state);

  void sync();

  static constexpr int kMaxPreviewEvery = 1000;

 private:
  std::unique_ptr<QSettings> m_settings;
  bool m_corrupt = false;
};

// Checks a request read from outside (settings, PNG metadata) for values the controls can hold; false when any
// field is out of range, with a reason for the user.
bool isPlausibleRequest(const dype::GenerationRequest& request, QString* reason = nullptr);

}  // namespace dype::ui
