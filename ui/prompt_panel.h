#pragma once
// PromptPanel: the multi-line prompt. Ctrl+Enter (either Enter key) asks for a generation instead of a new line.
#include <QWidget>

#include "core/pipeline/generation_request.h"

class QPlainTextEdit;

namespace dype::ui {

class PromptPanel : public QWidget {
  Q_OBJECT

 public:
  explicit PromptPanel(QWidget* parent = nullptr);

  QString prompt() const;
  void setPrompt(const QString& text);
  QPlainTextEdit* editor() const { return m_edit; }

  void apply(dype::GenerationRequest& request) const;
  void load(const dype::GenerationRequest& request);

 Q_SIGNALS:
  void generateRequested();
  void changed();

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  QPlainTextEdit* m_edit;
};

}  // namespace dype::ui
