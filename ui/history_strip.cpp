#include "ui/history_strip.h"

#include <QLabel>
#include <QListWidget>
#include <QVBoxLayout>

namespace dype::ui {
namespace {
constexpr int kThumb = 96;
}

HistoryStrip::HistoryStrip(QWidget* parent) : QWidget(parent), m_list(new QListWidget(this)), m_hint(new QLabel(this)) {
  m_list->setObjectName(QStringLiteral("historyList"));
  m_list->setViewMode(QListView::IconMode);
  m_list->setFlow(QListView::LeftToRight);
  m_list->setWrapping(false);
  m_list->setMovement(QListView::Static);
  m_list->setIconSize(QSize(kThumb, kThumb));
  m_list->setSpacing(4);
  m_list->setUniformItemSizes(true);
  m_list->setFixedHeight(kThumb + 28);
  m_list->setHorizontalScrollMode(QAbstractItemView::ScrollPerPixel);
  m_list->setToolTip(tr("Results of this session; click one to restore its settings."));
  // Until the first result the strip shows what will appear there instead of an empty white box (issue 15). The
  // hint takes the list's exact height, so the first result swaps one for the other without resizing the image
  // view above (a relayout that would repaint a 16 MP image on the GUI thread at the end of a run).
  m_hint->setObjectName(QStringLiteral("historyHint"));
  m_hint->setText(tr("Results appear here; click one to restore its settings."));
  m_hint->setAlignment(Qt::AlignCenter);
  m_hint->setFrameShape(QFrame::StyledPanel);
  m_hint->setFixedHeight(kThumb + 28);  // = the list's
  m_hint->setEnabled(false);            // drawn in the palette's disabled (grey) text colour: a hint, not content
  m_list->hide();
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(m_hint);
  layout->addWidget(m_list);
  connect(m_list, &QListWidget::itemClicked, this, &HistoryStrip::itemClicked);
}

QString HistoryStrip::summarize(const dype::GenerationRequest& r) {
  QString dype = QString::fromLatin1(dype::method_name(r.dype.method));
  if (r.dype.method != dype::DypeMethod::None) {
    dype += r.dype.dynamic ? QStringLiteral(" DyPE λs=%1 λt=%2").arg(r.dype.lambda_s).arg(r.dype.lambda_t)
                           : QStringLiteral(" static");
  }
  return QStringLiteral("%1×%2 · %3 steps · seed %4 · %5")
      .arg(r.width)
      .arg(r.height)
      .arg(r.steps)
      .arg(qulonglong(r.seed))
      .arg(dype);
}

void HistoryStrip::add(const QImage& image, const QImage& thumbnail,
                       std::shared_ptr<const dype::GenerationResult> result, double seconds) {
  HistoryEntry e;
  e.request = result->request;
  e.thumbnail =
      thumbnail.isNull() ? image.scaled(kThumb, kThumb, Qt::KeepAspectRatio, Qt::SmoothTransformation) : thumbnail;
  e.image = image;
  e.result = std::move(result);
  e.seconds = seconds;
  e.summary = summarize(e.request);

  auto* item = new QListWidgetItem(QIcon(QPixmap::fromImage(e.thumbnail)), QStringLiteral("#%1").arg(count() + 1));
  item->setToolTip(QStringLiteral("%1\n%2\n%3 s")
                       .arg(QString::fromStdString(e.request.prompt).left(200), e.summary)
                       .arg(seconds, 0, 'f', 1));
  m_list->insertItem(0, item);
  m_hint->hide();
  m_list->show();
  m_entries.push_front(std::move(e));
  // Bound the memory: a 16 MP result is ~200 MB with its 16-bit copy and display image.
  for (std::size_t i = kKeepFullResults; i < m_entries.size(); ++i) {
    m_entries[i].image = QImage();
    m_entries[i].result.reset();
  }
  m_list->setCurrentRow(0);
}

void HistoryStrip::itemClicked(QListWidgetItem* item) {
  const int row = m_list->row(item);
  if (row >= 0) Q_EMIT entryActivated(row);
}

}  // namespace dype::ui
