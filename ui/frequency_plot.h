#pragma once
// FrequencyPlot: how DyPE scales the spatial RoPE frequencies across the real sampling schedule, one curve per
// frequency band, log scale, over the step index or over t = σ; a static method dashed for comparison. Redraws
// within a frame when a setting changes (no generation needed), marks the current step during a run, shows values
// on hover and exports PNG / SVG / CSV.
#include <QWidget>
#include <vector>

#include "ui/frequency_series.h"

class QCPGraph;
class QCPItemStraightLine;
class QCPTextElement;
class QComboBox;
class QCustomPlot;
class QMouseEvent;
class QPushButton;

namespace dype::ui {

class FrequencyPlot : public QWidget {
  Q_OBJECT

 public:
  explicit FrequencyPlot(QWidget* parent = nullptr);

  // Current settings: DyPE config, output size and the sigmas of the model evaluations.
  void setInputs(const dype::DypeConfig& config, int width, int height, const std::vector<double>& sigmas);
  // Step just finished (1-based) during a run; 0 hides the marker.
  void setCurrentStep(int step);
  int currentStep() const { return m_step; }

  void setQuantity(PlotQuantity q);
  void setXAxis(PlotXAxis x);
  void setAxis(int axis);  // 1 = height (rows), 2 = width (columns), 0 = the longer one
  void setShowAllPairs(bool all);

  const FrequencySeries& series() const { return m_series; }
  QCustomPlot* customPlot() const { return m_plot; }
  QCPGraph* graphFor(int pair, bool comparison) const;  // nullptr when not drawn
  double markerX() const;                               // NaN when hidden
  QString hoverText() const { return m_hoverText; }     // the values last shown on hover (rich text)

  QString csv() const;
  bool exportTo(const QString& path, QString* error);  // .png, .svg or .csv by suffix

 Q_SIGNALS:
  void exported(const QString& path);

 private:
  void rebuild();
  void redraw();
  void placeMarker();
  void hover(QMouseEvent* event);
  void exportDialog();
  double xOf(std::size_t i) const;
  int effectiveAxis() const;

  QCustomPlot* m_plot;
  QCPTextElement* m_title = nullptr;
  QCPItemStraightLine* m_marker = nullptr;
  std::vector<QCPItemStraightLine*> m_gridLines;
  QComboBox* m_quantityBox;
  QComboBox* m_xBox;
  QComboBox* m_axisBox;
  QComboBox* m_compareBox;
  QComboBox* m_pairsBox;
  QPushButton* m_export;

  dype::DypeConfig m_config;
  int m_width = 1024;
  int m_height = 1024;
  std::vector<double> m_sigmas;
  int m_step = 0;
  QString m_hoverText;
  FrequencySeries m_series;
  std::vector<std::pair<QCPGraph*, std::size_t>> m_graphCurves;  // graph → index into m_series.curves
};

}  // namespace dype::ui
