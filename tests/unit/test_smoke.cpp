// test-deps: io
#include <QtTest>

#include "core/io/dtype.h"

class TestSmoke : public QObject {
  Q_OBJECT
 private slots:
  void e4m3_decodes_448() { QCOMPARE(dype::io::float8_e4m3_to_float(0x7E), 448.0f); }
};

QTEST_APPLESS_MAIN(TestSmoke)
#include "test_smoke.moc"
