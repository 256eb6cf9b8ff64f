#include "ui/model_panel.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSignalBlocker>
#include <QStackedWidget>
#include <QToolButton>
#include <QVBoxLayout>
#include <cmath>

#include "core/pipeline/demo_model.h"

namespace dype::ui {

ModelPanel::ModelPanel(QWidget* parent)
    : QWidget(parent),
      m_source(new QComboBox(this)),
      m_pages(new QStackedWidget(this)),
      m_demoLabel(new QLabel(this)),
      m_diffusers(new QLineEdit(this)),
      m_transformer(new QLineEdit(this)),
      m_vae(new QLineEdit(this)),
      m_clip(new QLineEdit(this)),
      m_t5(new QLineEdit(this)),
      m_tokenizers(new QLineEdit(this)),
      m_device(new QComboBox(this)),
      m_dtype(new QComboBox(this)),
      m_memory(new QDoubleSpinBox(this)),
      m_loaded(new QLabel(this)) {
  m_source->setObjectName(QStringLiteral("modelSourceCombo"));
  // The trained demo is offered only when this build has its weights (resources/demo/trained).
  if (dype::has_trained_demo()) m_source->addItem(tr("Demo model (trained on shapes)"), int(ModelChoice::Source::Demo));
  m_source->addItem(tr("Demo model, random weights"), int(ModelChoice::Source::DemoRandom));
  m_source->addItem(tr("Diffusers folder"), int(ModelChoice::Source::Diffusers));
  m_source->addItem(tr("Single files (BFL / ComfyUI)"), int(ModelChoice::Source::SingleFiles));

  m_demoLabel->setObjectName(QStringLiteral("demoLabel"));
  m_demoLabel->setStyleSheet(QStringLiteral("QLabel { color: #b35900; font-weight: bold; }"));
  m_demoLabel->setWordWrap(true);

  // Page 0: demo (only the label); page 1: a diffusers folder; page 2: the single files.
  auto* demoPage = new QWidget(m_pages);
  auto* demoLayout = new QVBoxLayout(demoPage);
  demoLayout->setContentsMargins(0, 0, 0, 0);
  demoLayout->addWidget(m_demoLabel);

  auto* folderPage = new QWidget(m_pages);
  auto* folderForm = new QFormLayout(folderPage);
  folderForm->setContentsMargins(0, 0, 0, 0);
  m_diffusers->setObjectName(QStringLiteral("diffusersEdit"));
  m_diffusers->setPlaceholderText(tr("folder with model_index.json"));
  folderForm->addRow(tr("Folder"), pathRow(m_diffusers, true, {}));

  auto* filesPage = new QWidget(m_pages);
  auto* filesForm = new QFormLayout(filesPage);
  filesForm->setContentsMargins(0, 0, 0, 0);
  const QString st = tr("safetensors (*.safetensors)");
  m_transformer->setObjectName(QStringLiteral("transformerEdit"));
  m_transformer->setPlaceholderText(QStringLiteral("flux1-dev.safetensors"));
  m_vae->setPlaceholderText(tr("ae.safetensors (found beside the transformer if empty)"));
  m_clip->setPlaceholderText(tr("clip_l.safetensors (found beside if empty)"));
  m_t5->setPlaceholderText(tr("t5xxl_*.safetensors (found beside if empty)"));
  m_tokenizers->setPlaceholderText(tr("folder with tokenizer/ and tokenizer_2/"));
  filesForm->addRow(tr("Transformer"), pathRow(m_transformer, false, st));
  filesForm->addRow(tr("VAE"), pathRow(m_vae, false, st));
  filesForm->addRow(tr("CLIP-L"), pathRow(m_clip, false, st));
  filesForm->addRow(tr("T5-XXL"), pathRow(m_t5, false, st));
  filesForm->addRow(tr("Tokenizers"), pathRow(m_tokenizers, true, {}));

  m_pages->addWidget(demoPage);
  m_pages->addWidget(folderPage);
  m_pages->addWidget(filesPage);

  m_device->setObjectName(QStringLiteral("deviceCombo"));
  m_device->addItems({QStringLiteral("cpu"), QStringLiteral("cuda")});
  m_device->setToolTip(tr("Where the transformer and the VAE run. CUDA needs a LibTorch build with CUDA."));
  m_dtype->setObjectName(QStringLiteral("dtypeCombo"));
  m_dtype->addItems({QStringLiteral("float32"), QStringLiteral("bfloat16"), QStringLiteral("float16")});
  m_dtype->setToolTip(tr("Compute precision of the transformer. CPU: float32; GPU: bfloat16."));
  m_memory->setObjectName(QStringLiteral("memoryBudgetSpin"));
  m_memory->setRange(0.0, 4096.0);
  m_memory->setDecimals(2);
  m_memory->setSingleStep(1.0);
  m_memory->setSuffix(tr(" GiB"));
  m_memory->setSpecialValueText(tr("all free memory"));  // shown at 0
  m_memory->setKeyboardTracking(false);
  m_memory->setToolTip(
      tr("Memory the run may use on the device (like the CLI's --max-memory). The estimate "
         "below Generate says whether the chosen size fits in it."));
  m_loaded->setObjectName(QStringLiteral("loadedLabel"));
  m_loaded->setWordWrap(true);
  m_loaded->setText(tr("Not loaded yet"));

  auto* deviceRow = new QHBoxLayout;
  deviceRow->addWidget(m_device, 1);
  deviceRow->addWidget(m_dtype, 1);
  auto* form = new QFormLayout(this);
  form->setContentsMargins(0, 0, 0, 0);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  form->addRow(tr("&Model"), m_source);
  form->addRow(m_pages);
  auto* deviceLabel = new QLabel(tr("&Device"), this);  // a layout row gets no buddy from QFormLayout
  deviceLabel->setBuddy(m_device);
  form->addRow(deviceLabel, deviceRow);
  form->addRow(tr("Memory &budget"), m_memory);
  form->addRow(m_loaded);

  connect(m_source, &QComboBox::currentIndexChanged, this, &ModelPanel::sourceChanged);
  for (QLineEdit* e : {m_diffusers, m_transformer, m_vae, m_clip, m_t5, m_tokenizers})
    connect(e, &QLineEdit::editingFinished, this, &ModelPanel::changed);
  // Each device gets its own default precision (core's default_compute_dtype): float32 on the CPU, bfloat16 on a
  // GPU, where float32 would need 47.6 GB of transformer weights.
  connect(m_device, &QComboBox::currentIndexChanged, this, [this] {
    m_dtype->setCurrentText(m_device->currentText() == QLatin1String("cpu") ? QStringLiteral("float32")
                                                                            : QStringLiteral("bfloat16"));
  });
  connect(m_device, &QComboBox::currentIndexChanged, this, &ModelPanel::changed);
  connect(m_dtype, &QComboBox::currentIndexChanged, this, &ModelPanel::changed);
  connect(m_memory, &QDoubleSpinBox::valueChanged, this, &ModelPanel::changed);
  sourceChanged();
}

QWidget* ModelPanel::pathRow(QLineEdit* edit, bool folder, const QString& filter) {
  auto* row = new QWidget(this);
  auto* layout = new QHBoxLayout(row);
  layout->setContentsMargins(0, 0, 0, 0);
  auto* browse = new QToolButton(row);
  browse->setText(QStringLiteral("…"));
  browse->setToolTip(folder ? tr("Choose a folder") : tr("Choose a file"));
  layout->addWidget(edit, 1);
  layout->addWidget(browse);
  connect(browse, &QToolButton::clicked, this, [this, edit, folder, filter] {
    const QString start = edit->text();
    const QString path = folder ? QFileDialog::getExistingDirectory(this, tr("Choose a folder"), start)
                                : QFileDialog::getOpenFileName(this, tr("Choose a file"), start, filter);
    if (path.isEmpty()) return;
    edit->setText(path);
    Q_EMIT changed();
  });
  return row;
}

void ModelPanel::showPage(int index) {
  // A QStackedWidget is as tall as its tallest page, so the one-line demo page used to sit in the five-row space
  // of the single-files page (the "large blank area" of issue 15). Hidden pages are told to ignore their size
  // hint, so the stack — and the Model box — fits the page on show.
  for (int i = 0; i < m_pages->count(); ++i) {
    const QSizePolicy::Policy p = i == index ? QSizePolicy::Preferred : QSizePolicy::Ignored;
    m_pages->widget(i)->setSizePolicy(p, p);
  }
  m_pages->setCurrentIndex(index);
  m_pages->adjustSize();
  m_pages->updateGeometry();
}

void ModelPanel::sourceChanged() {
  showCurrentPage();
  Q_EMIT changed();
}

ModelChoice ModelPanel::choice() const {
  ModelChoice c;
  c.source = ModelChoice::Source(m_source->currentData().toInt());
  c.diffusersFolder = m_diffusers->text().trimmed();
  c.transformerFile = m_transformer->text().trimmed();
  c.vaeFile = m_vae->text().trimmed();
  c.clipFile = m_clip->text().trimmed();
  c.t5File = m_t5->text().trimmed();
  c.tokenizerFolder = m_tokenizers->text().trimmed();
  c.device = m_device->currentText();
  c.dtype = m_dtype->currentText();
  c.maxMemoryMiB = int(std::lround(m_memory->value() * 1024.0));
  return c;
}

void ModelPanel::setChoice(const ModelChoice& c) {
  {
    const QSignalBlocker block(this);
    m_diffusers->setText(c.diffusersFolder);
    m_transformer->setText(c.transformerFile);
    m_vae->setText(c.vaeFile);
    m_clip->setText(c.clipFile);
    m_t5->setText(c.t5File);
    m_tokenizers->setText(c.tokenizerFolder);
    if (m_device->findText(c.device) < 0) m_device->addItem(c.device);  // e.g. "cuda:1"
    m_device->setCurrentText(c.device);
    m_dtype->setCurrentText(c.dtype);
    m_memory->setValue(double(c.maxMemoryMiB) / 1024.0);
    m_source->setCurrentIndex(std::max(0, m_source->findData(int(c.source))));
    showCurrentPage();
  }
  Q_EMIT changed();
}

bool ModelPanel::isDemo() const { return choice().isDemo(); }

void ModelPanel::showCurrentPage() {
  // Page 0 serves both demo models, with the label saying which one.
  const auto source = ModelChoice::Source(m_source->currentData().toInt());
  if (source == ModelChoice::Source::DemoRandom) {
    m_demoLabel->setText(tr("demo — random weights"));
    m_demoLabel->setToolTip(
        tr("A tiny FLUX-shaped model with random weights, built in memory: it runs the whole pipeline in "
           "seconds but draws coloured noise. For testing the app; the trained demo draws pictures."));
  } else {
    m_demoLabel->setText(tr("demo — tiny model trained on procedural shapes, %1 px base. Try "
                            "\u201ca red star on a blue background, top left\u201d.")
                             .arg(dype::kTrainedDemoBase));
    m_demoLabel->setToolTip(
        tr("Trained by this project on its own captioned shape pictures (README: \u201cThe demo model\u201d): "
           "one object of a named colour and shape at a named place, on a plain, striped, dotted or gradient "
           "background. Above %1 px it extrapolates, where the DyPE methods differ. Choose real FLUX.1 weights for "
           "everything else.")
            .arg(dype::kTrainedDemoBase));
  }
  switch (source) {
    case ModelChoice::Source::Demo:
    case ModelChoice::Source::DemoRandom: showPage(0); break;
    case ModelChoice::Source::Diffusers: showPage(1); break;
    case ModelChoice::Source::SingleFiles: showPage(2); break;
  }
}

void ModelPanel::setLoadedLabel(const QString& label) { m_loaded->setText(tr("Loaded: %1").arg(label)); }

}  // namespace dype::ui
