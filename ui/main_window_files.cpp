// MainWindow, images in and out: saving (PNG 8/16-bit, off the GUI thread), copying, restoring settings from a PNG
// our exports wrote (open dialog or drop), and dropped pictures as the image-to-image start. Kept apart from
// main_window.cpp, which builds the window and drives the run.
#include <QClipboard>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QGuiApplication>
#include <QMimeData>
#include <QStatusBar>
#include <QtConcurrent/QtConcurrentRun>

#include "core/pipeline/request_metadata.h"
#include "ui/flux_panel.h"
#include "ui/image_to_image_panel.h"
#include "ui/main_window.h"
#include "ui/png_io.h"
#include "ui/settings.h"

namespace dype::ui {

bool MainWindow::restoreFromPng(const QString& path) {
  QString error;
  const auto request = readRequestFromPng(path, &error);
  if (!request) {
    statusBar()->showMessage(error, 8000);
    return false;
  }
  QString reason;
  if (!isPlausibleRequest(*request, &reason)) {
    statusBar()->showMessage(tr("%1: settings out of range (%2)").arg(QFileInfo(path).fileName(), reason), 8000);
    return false;
  }
  m_flux->setRandomSeed(false);
  restoreRequest(*request);
  // LoRA files live outside the image: say which ones this machine does not have (at their recorded path).
  const std::vector<std::string> missing = dype::missing_lora_files(*request);
  if (!missing.empty()) {
    QStringList names;
    for (const std::string& m : missing) names << QString::fromStdString(m);
    statusBar()->showMessage(tr("Settings restored from %1, but its LoRA files are missing: %2")
                                 .arg(QFileInfo(path).fileName(), names.join(QStringLiteral(", "))),
                             15000);
    return true;
  }
  statusBar()->showMessage(tr("Settings restored from %1").arg(QFileInfo(path).fileName()), 5000);
  return true;
}

void MainWindow::openPngDialog() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Restore settings from PNG"), m_settings.lastDirectory(),
                                                    tr("PNG images (*.png)"));
  if (!path.isEmpty()) restoreFromPng(path);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  const QList<QUrl> urls = event->mimeData()->urls();
  if (urls.size() == 1 && urls.front().isLocalFile() &&
      urls.front().toLocalFile().endsWith(QLatin1String(".png"), Qt::CaseInsensitive))
    event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  const QList<QUrl> urls = event->mimeData()->urls();
  if (urls.isEmpty()) return;
  const QString path = urls.front().toLocalFile();
  // A PNG with our settings restores them; any other picture becomes the start image (image-to-image).
  QString error;
  if (readRequestFromPng(path, &error)) {
    if (restoreFromPng(path)) event->acceptProposedAction();
  } else if (m_img2img->setInitImage(path)) {
    statusBar()->showMessage(
        tr("%1 is the start image now (image-to-image): %2").arg(QFileInfo(path).fileName(), m_img2img->fitText()),
        8000);
    event->acceptProposedAction();
  } else {
    statusBar()->showMessage(error, 8000);
  }
}

bool MainWindow::saveImage(const QString& path, int bitDepth) {
  if (!m_result) {
    Q_EMIT saveFailed(tr("Nothing to save yet: generate an image first."));
    return false;
  }
  // Encoding 16 MP takes seconds: done on the thread pool, the result is kept alive by the shared pointer.
  auto result = m_result;
  auto* watcher = new QFutureWatcher<QString>(this);
  connect(watcher, &QFutureWatcher<QString>::finished, this, [this, watcher, path] {
    const QString error = watcher->result();
    watcher->deleteLater();
    --m_savesInFlight;
    if (error.isEmpty()) {
      statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
      Q_EMIT saved(path);
    } else {
      showError(tr("Save failed"), error);
      Q_EMIT saveFailed(error);
    }
  });
  ++m_savesInFlight;
  statusBar()->showMessage(tr("Saving %1…").arg(path));
  watcher->setFuture(QtConcurrent::run([result, path, bitDepth] { return savePng(path, *result, bitDepth); }));
  return true;
}

void MainWindow::saveDialog() {
  if (!m_result) return;
  const auto& r = m_result->request;
  const QString dir = m_settings.lastDirectory();
  const QString name = QStringLiteral("dype-%1x%2-%3.png").arg(r.width).arg(r.height).arg(qulonglong(r.seed));
  const QString png8 = tr("PNG, 8 bits per channel (*.png)");
  const QString png16 = tr("PNG, 16 bits per channel (*.png)");
  QString filter = m_settings.exportBitDepth() == 16 ? png16 : png8;
  const QString start = dir.isEmpty() ? name : dir + QLatin1Char('/') + name;
  const QString filters = png8 + QStringLiteral(";;") + png16;
  QString path = m_saveFileFunction ? m_saveFileFunction(this, tr("Save image"), start, filters, &filter)
                                    : QFileDialog::getSaveFileName(this, tr("Save image"), start, filters, &filter);
  if (path.isEmpty()) return;
  if (QFileInfo(path).suffix().isEmpty()) path += QStringLiteral(".png");
  const int bits = filter == png16 ? 16 : 8;
  m_settings.setExportBitDepth(bits);
  m_settings.setLastDirectory(QFileInfo(path).absolutePath());
  saveImage(path, bits);
}

void MainWindow::copyImage() {
  if (m_resultImage.isNull()) return;
  QGuiApplication::clipboard()->setImage(m_resultImage);
  statusBar()->showMessage(tr("Image copied to the clipboard."), 3000);
}

}  // namespace dype::ui
