// test-deps: ui
// LoraPanel: rows added, re-weighted by slider or spin box, disabled and removed; only enabled rows reach the
// request; the list is restored from a request and remembered across windows through the saved last request.
#include <QDoubleSpinBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QTemporaryDir>
#include <QtTest>

#include "ui/lora_panel.h"
#include "ui/main_window.h"
#include "ui/settings.h"

using namespace dype::ui;

class TestLoraPanel : public QObject {
  Q_OBJECT

 private slots:
  void rowsReachTheRequest() {
    LoraPanel panel;
    QSignalSpy changed(&panel, &LoraPanel::changed);
    dype::GenerationRequest r;
    panel.apply(r);
    QVERIFY(r.loras.empty());
    panel.addLora(QStringLiteral("/loras/style.safetensors"), 0.8);
    panel.addLora(QStringLiteral("/loras/face.safetensors"));
    QVERIFY(changed.count() >= 2);
    QCOMPARE(panel.count(), 2);
    QCOMPARE(panel.strength(1), 1.0);

    // The slider and the spin box are one value.
    auto sliders = panel.findChildren<QSlider*>();
    auto spins = panel.findChildren<QDoubleSpinBox*>();
    QCOMPARE(sliders.size(), 2);
    sliders[0]->setValue(-35);
    QCOMPARE(panel.strength(0), -0.35);
    spins[1]->setValue(1.5);
    QCOMPARE(sliders[1]->value(), 150);

    panel.setLoraEnabled(1, false);
    panel.apply(r);
    QCOMPARE(r.loras.size(), std::size_t(1));
    QCOMPARE(r.loras[0].path, std::string("/loras/style.safetensors"));
    QCOMPARE(r.loras[0].strength, -0.35);

    // Remove through the row's own button.
    const auto removes = panel.findChildren<QPushButton*>();
    QPushButton* remove = nullptr;
    for (QPushButton* b : removes)
      if (b->text() == QStringLiteral("Remove")) {
        remove = b;
        break;
      }
    QVERIFY(remove);
    remove->click();
    QCOMPARE(panel.count(), 1);
    QCOMPARE(panel.path(0), QStringLiteral("/loras/face.safetensors"));
  }

  void loadReplacesTheList() {
    LoraPanel panel;
    panel.addLora(QStringLiteral("/a.safetensors"));
    dype::GenerationRequest r;
    r.loras = {{"/b.safetensors", 0.25, ""}, {"/c.safetensors", 3.0, ""}};
    panel.load(r);
    QCOMPARE(panel.count(), 2);
    QCOMPARE(panel.path(0), QStringLiteral("/b.safetensors"));
    QCOMPARE(panel.strength(1), 3.0);  // beyond the slider's range, kept by the spin box
    dype::GenerationRequest back;
    panel.apply(back);
    QCOMPARE(back.loras.size(), std::size_t(2));
    QCOMPARE(back.loras[1].strength, 3.0);
  }

  void windowRemembersTheList() {
    QTemporaryDir dir;
    Settings settings(dir.filePath(QStringLiteral("lora.ini")));
    {
      MainWindow window(settings);
      window.loraPanel()->addLora(QStringLiteral("/loras/style.safetensors"), 0.6);
      QCOMPARE(window.currentRequest().loras.size(), std::size_t(1));
      window.close();  // saves the settings
    }
    MainWindow again(settings);
    QCOMPARE(again.loraPanel()->count(), 1);
    QCOMPARE(again.loraPanel()->strength(0), 0.6);
    QCOMPARE(again.currentRequest().loras[0].path, std::string("/loras/style.safetensors"));
  }
};

QTEST_MAIN(TestLoraPanel)
#include "test_lora_panel.moc"
