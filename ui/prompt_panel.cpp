#include "ui/prompt_panel.h"

#include <QKeyEvent>
#include <QLabel>
#include <QPlainTextEdit>
#include <QVBoxLayout>

namespace dype::ui {

PromptPanel::PromptPanel(QWidget* parent) : QWidget(parent), m_edit(new QPlainTextEdit(this)) {
  m_edit->setObjectName(QStringLiteral("promptEdit"));
  m_edit->setPlaceholderText(tr("Describe the image… (Ctrl+Enter generates)"));
  m_edit->setTabChangesFocus(true);
  // A few lines are enough: the vertical space belongs to the image and the plot.
  m_edit->setMinimumHeight(60);
  m_edit->setMaximumHeight(110);
  m_edit->installEventFilter(this);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  auto* label = new QLabel(tr("&Prompt"), this);
  label->setBuddy(m_edit);
  layout->addWidget(label);
  layout->addWidget(m_edit);
  connect(m_edit, &QPlainTextEdit::textChanged, this, &PromptPanel::changed);
}

QString PromptPanel::prompt() const { return m_edit->toPlainText(); }
void PromptPanel::setPrompt(const QString& text) { m_edit->setPlainText(text); }

void PromptPanel::apply(dype::GenerationRequest& request) const { request.prompt = prompt().toStdString(); }

void PromptPanel::load(const dype::GenerationRequest& request) { setPrompt(QString::fromStdString(request.prompt)); }

bool PromptPanel::eventFilter(QObject* watched, QEvent* event) {
  if (watched == m_edit && event->type() == QEvent::KeyPress) {
    const auto* key = static_cast<QKeyEvent*>(event);
    if ((key->key() == Qt::Key_Return || key->key() == Qt::Key_Enter) && (key->modifiers() & Qt::ControlModifier)) {
      Q_EMIT generateRequested();
      return true;  // no newline
    }
  }
  return QWidget::eventFilter(watched, event);
}

}  // namespace dype::ui
