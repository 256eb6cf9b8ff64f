#pragma once
// LoraPanel: the LoRAs of the next run — one row per file with an enable box, the file name, a strength slider
// (−2 … 2; the spin box beside it goes to ±10), and a remove button; "Add…" picks .safetensors files. Enabled rows go
// into the request (GenerationRequest::loras); the window keeps the last request in its settings, so they are
// remembered. A disabled row stays in the list for this session only.
#include <QString>
#include <QWidget>
#include <vector>

#include "core/pipeline/generation_request.h"

class QCheckBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QSlider;
class QVBoxLayout;

namespace dype::ui {

class LoraPanel : public QWidget {
  Q_OBJECT

 public:
  explicit LoraPanel(QWidget* parent = nullptr);

  void addLora(const QString& path, double strength = 1.0, bool enabled = true);
  void removeLora(int row);
  int count() const { return int(m_rows.size()); }
  QString path(int row) const { return m_rows[std::size_t(row)].path; }
  double strength(int row) const;
  void setStrength(int row, double strength);
  bool isLoraEnabled(int row) const;
  void setLoraEnabled(int row, bool enabled);

  void apply(dype::GenerationRequest& request) const;
  void load(const dype::GenerationRequest& request);

 Q_SIGNALS:
  void changed();

 private:
  struct Row {
    QString path;
    QWidget* widget = nullptr;
    QCheckBox* enabled = nullptr;
    QSlider* slider = nullptr;
    QDoubleSpinBox* spin = nullptr;
  };
  void addFiles();
  void clear();

  QVBoxLayout* m_list;
  QLabel* m_empty;
  std::vector<Row> m_rows;
};

}  // namespace dype::ui
