#pragma once
// HistoryStrip: thumbnails of this session's results, newest first, to compare runs made with different DyPE
// settings. Clicking one restores its settings (and shows its image while it is still held in memory: the last
// few full results are kept, older entries keep only thumbnail and settings).
#include <QImage>
#include <QWidget>
#include <deque>
#include <memory>

#include "core/pipeline/generation_request.h"

class QLabel;
class QListWidget;
class QListWidgetItem;

namespace dype::ui {

struct HistoryEntry {
  dype::GenerationRequest request;
  QImage thumbnail;
  QImage image;                                          // null once evicted
  std::shared_ptr<const dype::GenerationResult> result;  // null once evicted
  double seconds = 0;
  QString summary;
};

class HistoryStrip : public QWidget {
  Q_OBJECT

 public:
  explicit HistoryStrip(QWidget* parent = nullptr);

  // `thumbnail` is made by the caller (off the GUI thread for big images); null = scaled here.
  void add(const QImage& image, const QImage& thumbnail, std::shared_ptr<const dype::GenerationResult> result,
           double seconds);
  int count() const { return int(m_entries.size()); }
  const HistoryEntry& entry(int index) const { return m_entries.at(std::size_t(index)); }  // 0 = newest
  QListWidget* list() const { return m_list; }
  QLabel* hint() const { return m_hint; }  // shown (instead of the list) while there is no result yet

  static QString summarize(const dype::GenerationRequest& request);
  static constexpr int kKeepFullResults = 4;

 Q_SIGNALS:
  void entryActivated(int index);

 private:
  void itemClicked(QListWidgetItem* item);

  QListWidget* m_list;
  QLabel* m_hint;
  std::deque<HistoryEntry> m_entries;  // same order as the list rows
};

}  // namespace dype::ui
