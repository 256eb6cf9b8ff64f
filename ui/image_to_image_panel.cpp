#include "ui/image_to_image_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QImageReader>
#include <QLabel>
#include <QMimeData>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include "core/common/error.h"
#include "core/image/resize.h"
#include "core/pipeline/passes.h"

namespace dype::ui {

namespace {
QString fromStd(const std::string& s) { return QString::fromStdString(s); }
}  // namespace

ImageToImagePanel::ImageToImagePanel(QWidget* parent)
    : QWidget(parent),
      m_file(new QLabel(this)),
      m_open(new QPushButton(tr("Open…"), this)),
      m_clear(new QPushButton(tr("Clear"), this)),
      m_strength(new QDoubleSpinBox(this)),
      m_fit(new QComboBox(this)),
      m_fitInfo(new QLabel(this)),
      m_refine(new QGroupBox(tr("Two-pass hi-res refine"), this)),
      m_autoBase(new QCheckBox(tr("auto"), this)),
      m_baseWidth(new QSpinBox(this)),
      m_baseHeight(new QSpinBox(this)),
      m_refineStrength(new QDoubleSpinBox(this)),
      m_refineSteps(new QSpinBox(this)),
      m_upscale(new QComboBox(this)),
      m_refineInfo(new QLabel(this)) {
  setAcceptDrops(true);
  m_file->setObjectName(QStringLiteral("initImageLabel"));
  m_file->setWordWrap(true);
  m_open->setObjectName(QStringLiteral("initImageOpen"));
  m_open->setToolTip(tr("Start from a picture (PNG or JPEG) instead of pure noise. You can also drop one here."));
  m_clear->setObjectName(QStringLiteral("initImageClear"));
  m_clear->setToolTip(tr("Back to text-to-image."));

  for (QDoubleSpinBox* s : {m_strength, m_refineStrength}) {
    s->setRange(0.01, 1.0);
    s->setSingleStep(0.05);
    s->setDecimals(2);
    s->setValue(0.6);
  }
  m_strength->setObjectName(QStringLiteral("strengthSpin"));
  m_strength->setToolTip(
      tr("Share of the schedule re-run from the picture: small keeps it, 1 ignores it "
         "(= text-to-image). With N steps, about N × strength steps run."));
  m_fit->setObjectName(QStringLiteral("initFitCombo"));
  m_fit->addItem(tr("crop (keep aspect)"), QStringLiteral("crop"));
  m_fit->addItem(tr("stretch"), QStringLiteral("stretch"));
  m_fit->setToolTip(tr("crop: scale to cover the output size and cut the centre; stretch: scale each axis."));
  m_fitInfo->setObjectName(QStringLiteral("initFitInfo"));
  m_fitInfo->setWordWrap(true);

  m_refine->setObjectName(QStringLiteral("refineGroup"));
  m_refine->setCheckable(true);
  m_refine->setChecked(false);
  m_refine->setToolTip(
      tr("Generate at a base size first, upscale the picture and re-denoise it at the output "
         "size from a partial noise level — the usual way to clean up 4K images."));
  m_autoBase->setObjectName(QStringLiteral("refineAutoBase"));
  m_autoBase->setChecked(true);
  m_autoBase->setToolTip(tr("The DyPE base resolution's area with the output's aspect."));
  for (QSpinBox* s : {m_baseWidth, m_baseHeight}) {
    s->setRange(16, 4096);
    s->setSingleStep(16);
    s->setValue(1024);
    s->setSuffix(QStringLiteral(" px"));
    s->setEnabled(false);
  }
  m_baseWidth->setObjectName(QStringLiteral("refineBaseWidth"));
  m_baseHeight->setObjectName(QStringLiteral("refineBaseHeight"));
  m_refineStrength->setObjectName(QStringLiteral("refineStrengthSpin"));
  m_refineStrength->setToolTip(tr("img2img strength of the refine pass (0.6 is the usual choice)."));
  m_refineSteps->setObjectName(QStringLiteral("refineStepsSpin"));
  m_refineSteps->setRange(0, 200);
  m_refineSteps->setSpecialValueText(tr("same as pass 1"));
  m_refineSteps->setToolTip(tr("Schedule length of the refine pass; it runs about steps × strength of them."));
  m_upscale->setObjectName(QStringLiteral("refineUpscaleCombo"));
  m_upscale->addItem(tr("Lanczos"), QStringLiteral("lanczos"));
  m_upscale->addItem(tr("bicubic"), QStringLiteral("bicubic"));
  m_refineInfo->setObjectName(QStringLiteral("refineInfo"));
  m_refineInfo->setWordWrap(true);

  auto* fileRow = new QHBoxLayout;
  fileRow->setContentsMargins(0, 0, 0, 0);
  fileRow->addWidget(m_file, 1);
  fileRow->addWidget(m_open);
  fileRow->addWidget(m_clear);
  auto* baseRow = new QHBoxLayout;
  baseRow->setContentsMargins(0, 0, 0, 0);
  baseRow->addWidget(m_autoBase);
  baseRow->addWidget(m_baseWidth);
  baseRow->addWidget(new QLabel(QStringLiteral("×"), this));
  baseRow->addWidget(m_baseHeight);

  auto* refineForm = new QFormLayout(m_refine);
  refineForm->addRow(tr("Pass 1 size"), baseRow);
  refineForm->addRow(tr("Stren&gth"), m_refineStrength);
  refineForm->addRow(tr("Ste&ps"), m_refineSteps);
  refineForm->addRow(tr("&Upscale"), m_upscale);
  refineForm->addRow(m_refineInfo);

  auto* form = new QFormLayout;
  form->setContentsMargins(0, 0, 0, 0);
  form->addRow(tr("Start image"), fileRow);
  form->addRow(tr("S&trength"), m_strength);
  form->addRow(tr("&Fit"), m_fit);
  form->addRow(m_fitInfo);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(form);
  layout->addWidget(m_refine);

  connect(m_open, &QPushButton::clicked, this, &ImageToImagePanel::openDialog);
  connect(m_clear, &QPushButton::clicked, this, [this] { setInitImage(QString()); });
  auto edited = [this] {
    updateTexts();
    Q_EMIT changed();
  };
  connect(m_strength, &QDoubleSpinBox::valueChanged, this, edited);
  connect(m_fit, &QComboBox::currentIndexChanged, this, edited);
  connect(m_refine, &QGroupBox::toggled, this, edited);
  connect(m_autoBase, &QCheckBox::toggled, this, [this, edited](bool on) {
    m_baseWidth->setEnabled(!on);
    m_baseHeight->setEnabled(!on);
    edited();
  });
  connect(m_baseWidth, &QSpinBox::valueChanged, this, edited);
  connect(m_baseHeight, &QSpinBox::valueChanged, this, edited);
  connect(m_refineStrength, &QDoubleSpinBox::valueChanged, this, edited);
  connect(m_refineSteps, &QSpinBox::valueChanged, this, edited);
  connect(m_upscale, &QComboBox::currentIndexChanged, this, edited);
  updateTexts();
}

bool ImageToImagePanel::setInitImage(const QString& path) {
  if (path.isEmpty()) {
    m_path.clear();
    m_imageSize = QSize();
  } else {
    // The header is enough for the fit plan; the pipeline reads (and checks) the pixels when the run starts.
    QImageReader reader(path);
    const QSize size = reader.size();
    if (!size.isValid()) {
      m_fitInfo->setText(tr("%1 cannot be used: %2").arg(QFileInfo(path).fileName(), reader.errorString()));
      return false;
    }
    m_path = path;
    m_imageSize = size;
  }
  updateTexts();
  Q_EMIT changed();
  return true;
}

double ImageToImagePanel::strength() const { return m_strength->value(); }
void ImageToImagePanel::setStrength(double s) { m_strength->setValue(s); }
bool ImageToImagePanel::refineEnabled() const { return m_refine->isChecked(); }
void ImageToImagePanel::setRefineEnabled(bool on) { m_refine->setChecked(on); }
QString ImageToImagePanel::fitText() const { return m_fitInfo->text(); }
QString ImageToImagePanel::refineText() const { return m_refineInfo->text(); }

void ImageToImagePanel::setOutputSize(int width, int height, int baseResolution) {
  m_output = QSize(width, height);
  m_baseResolution = baseResolution;
  updateTexts();
}

void ImageToImagePanel::setSteps(int steps) {
  m_steps = steps;
  updateTexts();
}

void ImageToImagePanel::openDialog() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Start image"), QFileInfo(m_path).absolutePath(),
                                                    tr("Images (*.png *.jpg *.jpeg);;All files (*)"));
  if (!path.isEmpty()) setInitImage(path);
}

void ImageToImagePanel::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void ImageToImagePanel::dropEvent(QDropEvent* event) {
  const auto urls = event->mimeData()->urls();
  if (urls.isEmpty() || !urls.front().isLocalFile()) return;
  if (setInitImage(urls.front().toLocalFile())) event->acceptProposedAction();
}

void ImageToImagePanel::updateTexts() {
  const bool has = !m_path.isEmpty();
  m_file->setText(has ? QFileInfo(m_path).fileName() : tr("none — text-to-image"));
  m_file->setToolTip(m_path);
  m_clear->setEnabled(has);
  m_strength->setEnabled(has);
  m_fit->setEnabled(has);
  dype::GenerationRequest r;
  apply(r);
  r.width = m_output.width();
  r.height = m_output.height();
  r.steps = m_steps;
  r.dype.base_resolution = m_baseResolution;
  try {
    const std::vector<dype::PassPlan> passes = dype::plan_passes(r);
    if (has) {
      const dype::PassPlan& first = passes.front();
      const dype::image::FitPlan fit = dype::image::plan_fit(m_imageSize.width(), m_imageSize.height(), first.width,
                                                             first.height, dype::image::parse_fit_mode(r.init_fit));
      m_fitInfo->setText(
          tr("%1; %2 of %3 steps run").arg(fromStd(fit.describe())).arg(first.steps_run()).arg(first.steps));
    } else {
      m_fitInfo->setText(QString());
    }
    if (passes.size() > 1) {
      const dype::PassPlan& a = passes[0];
      const dype::PassPlan& b = passes[1];
      m_refineInfo->setText(tr("pass 1 at %1×%2 (%3 steps), then %4 of %5 steps at %6×%7")
                                .arg(a.width)
                                .arg(a.height)
                                .arg(a.steps_run())
                                .arg(b.steps_run())
                                .arg(b.steps)
                                .arg(b.width)
                                .arg(b.height));
    } else {
      m_refineInfo->setText(QString());
    }
  } catch (const dype::Error& e) {
    (r.refine.enabled ? m_refineInfo : m_fitInfo)->setText(fromStd(e.what()));
  }
}

void ImageToImagePanel::apply(dype::GenerationRequest& request) const {
  request.init_image = m_path.toStdString();
  request.strength = m_strength->value();
  request.init_fit = m_fit->currentData().toString().toStdString();
  request.refine.enabled = m_refine->isChecked();
  request.refine.base_width = m_autoBase->isChecked() ? 0 : m_baseWidth->value() / 16 * 16;
  request.refine.base_height = m_autoBase->isChecked() ? 0 : m_baseHeight->value() / 16 * 16;
  request.refine.strength = m_refineStrength->value();
  request.refine.steps = m_refineSteps->value();
  request.refine.upscale = m_upscale->currentData().toString().toStdString();
}

void ImageToImagePanel::load(const dype::GenerationRequest& request) {
  // A start image that is no longer on this machine is dropped from the restored settings (the rest applies).
  m_path.clear();
  m_imageSize = QSize();
  if (!request.init_image.empty()) setInitImage(QString::fromStdString(request.init_image));
  m_strength->setValue(request.strength);
  m_fit->setCurrentIndex(std::max(0, m_fit->findData(QString::fromStdString(request.init_fit))));
  m_refine->setChecked(request.refine.enabled);
  m_autoBase->setChecked(request.refine.base_width == 0);
  if (request.refine.base_width) {
    m_baseWidth->setValue(request.refine.base_width);
    m_baseHeight->setValue(request.refine.base_height);
  }
  m_refineStrength->setValue(request.refine.strength);
  m_refineSteps->setValue(request.refine.steps);
  m_upscale->setCurrentIndex(std::max(0, m_upscale->findData(QString::fromStdString(request.refine.upscale))));
  m_steps = request.steps;
  updateTexts();
}

}  // namespace dype::ui
