#pragma once
// Measures how long the GUI thread's event loop goes without turning: the longest gap between ticks of a 10 ms
// timer. The GUI tests assert it stays small while a generation runs (the window never freezes).
#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <algorithm>

namespace dype::test {

class GapMeter : public QObject {
 public:
  GapMeter() {
    m_timer.setInterval(10);
    m_timer.setTimerType(Qt::PreciseTimer);
    connect(&m_timer, &QTimer::timeout, this, [this] {
      const qint64 now = m_clock.nsecsElapsed();
      if (m_last >= 0) m_longest = std::max(m_longest, now - m_last);
      m_last = now;
      ++m_ticks;
    });
  }
  void start() {
    m_clock.start();
    m_last = -1;
    m_longest = 0;
    m_ticks = 0;
    m_timer.start();
  }
  void stop() { m_timer.stop(); }
  double longestMs() const { return double(m_longest) / 1e6; }
  int ticks() const { return m_ticks; }

 private:
  QTimer m_timer;
  QElapsedTimer m_clock;
  qint64 m_last = -1;
  qint64 m_longest = 0;
  int m_ticks = 0;
};

}  // namespace dype::test
