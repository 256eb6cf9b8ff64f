// test-deps: shapes image
// `dype shapes` run as a user runs it (the built CLI as a process): render a caption, score the picture against
// its own caption (exit 0) and against another (exit 3, with the failed checks named), write a small data set whose
// captions all parse and whose pictures all score as captioned, and refuse bad input with exit 1 and a message.
// Also `dype generate` with the built-in trained demo, whose pictures `dype shapes score` is there to judge.
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>
#include <string>

#include "core/image/image_file.h"
#include "core/image/png_export.h"
#include "core/image/rgb_image.h"
#include "core/shapes/render.h"
#include "core/shapes/scene.h"
#include "core/shapes/score.h"

namespace {

QString dype_cli() {
  if (const char* env = std::getenv("DYPE_CLI")) return QString::fromLocal8Bit(env);
  return QStringLiteral(DYPE_CLI_PATH);
}

struct Run {
  int code = -1;
  QString out, err;
};

Run run_cli(const QStringList& args) {
  QProcess p;
  p.start(dype_cli(), args);
  if (!p.waitForFinished(120000)) return {};
  return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError())};
}
Run run(const QStringList& args) { return run_cli(QStringList{"shapes"} + args); }

}  // namespace

class TestCliShapes : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

 private slots:
  void initTestCase() {
    QVERIFY2(QFileInfo::exists(dype_cli()), qPrintable("the dype CLI is not built at " + dype_cli()));
    QVERIFY(tmp_.isValid());
  }

  void renderThenScore() {
    const QString png = tmp_.filePath("star.png");
    const QString caption = "a red star on a blue background with white stripes, top left";
    const Run r = run({"render", "--caption", caption, "--seed", "4", "--size", "320x256", "--output", png});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QCOMPARE(r.out.trimmed(), caption);
    const Run ok = run({"score", png, "--caption", caption});
    QVERIFY2(ok.code == 0 && ok.out.contains("accepted"), qPrintable(ok.out + ok.err));

    // Against another caption: exit 3, the failed checks named; --json gives the figures.
    const Run wrong = run({"score", png, "--caption", "a red star on a blue background with white stripes, center"});
    QCOMPARE(wrong.code, 3);
    QVERIFY2(wrong.out.contains("rejected") && wrong.out.contains("at top left (caption: center)"),
             qPrintable(wrong.out));
    const Run js = run({"score", png, "--caption", "a green star on a blue background, top left", "--json"});
    QCOMPARE(js.code, 3);
    const auto j = nlohmann::json::parse(js.out.toStdString());
    QCOMPARE(j.at("accepted").get<bool>(), false);
    QCOMPARE(j.at("colour_ok").get<bool>(), false);
    QCOMPARE(j.at("objects").get<int>(), 0);
  }

  // A picture with two objects (drawn here, not by the CLI) is scored as a duplication.
  void scoreCountsObjects() {
    using namespace dype::shapes;
    Scene s = parse_caption("a yellow circle on a black background, left");
    dype::RgbImage im = render(s, 256, 256);
    Scene other = s;
    other.place = Place::Right;
    draw_object(im, other);
    const QString png = tmp_.filePath("two.png");
    dype::image::write_png(png.toStdString(), im, 8);
    const Run r = run({"score", png, "--caption", QString::fromStdString(caption(s)), "--json"});
    QCOMPARE(r.code, 3);
    const auto j = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(j.at("objects").get<int>(), 2);
    QCOMPARE(j.at("count_error").get<int>(), 1);
  }

  void dataset() {
    const QString dir = tmp_.filePath("set");
    const Run r = run({"dataset", "--count", "6", "--seed", "9", "--size", "96x96", "--output", dir});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QFile list(dir + "/captions.tsv");
    QVERIFY(list.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(list.readAll()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 6);
    for (int i = 0; i < lines.size(); ++i) {
      const QStringList f = lines[i].split('\t');
      QCOMPARE(f.size(), 2);
      QCOMPARE(f[0], QString("%1.png").arg(i, 6, 10, QChar('0')));
      QCOMPARE(QString::fromStdString(dype::shapes::caption(dype::shapes::random_scene(9, i))), f[1]);
      const Run s = run({"score", dir + "/" + f[0], "--caption", f[1]});
      QVERIFY2(s.code == 0, qPrintable(f[1] + ": " + s.out + s.err));
    }
  }

  // Nothing but a prompt: the built-in trained demo, without the random-weights note, at its default size (4× its
  // 128 px base per side, as the GUI proposes; before, every model got 1024²). At the base size, a picture that
  // `dype shapes score` accepts as its caption: the user's path from the CLI to the scorer.
  void generateWithTheTrainedDemo() {
    const QString caption = "a black circle on a white background, left";
    const QString big = tmp_.filePath("default.png");
    const Run d = run_cli({"generate", "--prompt", caption, "--output", big});
    QVERIFY2(d.code == 0, qPrintable(d.err));
    QVERIFY2(d.err.contains("model: demo — tiny model trained on procedural shapes, 128 px base"), qPrintable(d.err));
    QVERIFY2(!d.err.contains("random weights"), qPrintable(d.err));
    const dype::image::LoadedImage im = dype::image::load_image(big.toStdString());
    QCOMPARE(im.width, 512);
    QCOMPARE(im.height, 512);
    const QString tall = tmp_.filePath("tall.png");  // a side given keeps its value, the other the default
    const Run t = run_cli({"generate", "--prompt", caption, "--height", "256", "--steps", "1", "--output", tall});
    QVERIFY2(t.code == 0, qPrintable(t.err));
    const dype::image::LoadedImage tall_im = dype::image::load_image(tall.toStdString());
    QCOMPARE(tall_im.width, 512);
    QCOMPARE(tall_im.height, 256);

    const QString small = tmp_.filePath("base.png");
    const Run b = run_cli({"generate", "--prompt", caption, "--width", "128", "--height", "128", "--output", small});
    QVERIFY2(b.code == 0, qPrintable(b.err));
    const Run score = run({"score", small, "--caption", caption});
    QVERIFY2(score.code == 0 && score.out.contains("accepted"), qPrintable(score.out + score.err));
  }

  void badInput_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("message");
    QTest::newRow("unknown colour") << QStringList{"render", "--caption", "a pink star on a blue background, top",
                                                   "--output", "X.png"}
                                    << "'pink'";
    QTest::newRow("no caption or seed") << QStringList{"render", "--output", "X.png"} << "--caption TEXT or --seed N";
    QTest::newRow("bad size") << QStringList{"render", "--seed", "1", "--size", "4x4000", "--output", "X.png"}
                              << "8…16384";
    QTest::newRow("missing image") << QStringList{"score", "/nonexistent/x.png", "--caption",
                                                  "a red star on a blue background, top"}
                                   << "/nonexistent/x.png";
    QTest::newRow("score without caption") << QStringList{"score", "X.png"} << "--caption TEXT is required";
    QTest::newRow("unknown subcommand") << QStringList{"draw"} << "unknown shapes command 'draw'";
    QTest::newRow("dataset count") << QStringList{"dataset", "--count", "0", "--output", "D"} << "--count";
  }
  void badInput() {
    QFETCH(QStringList, args);
    QFETCH(QString, message);
    args.replaceInStrings("X.png", tmp_.filePath("never.png"));
    args.replaceInStrings(QRegularExpression("^D$"), tmp_.filePath("never-dir"));
    const Run r = run(args);
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains(message), qPrintable(r.err));
    QVERIFY(!QFileInfo::exists(tmp_.filePath("never.png")));
    QVERIFY(!QFileInfo::exists(tmp_.filePath("never-dir")));
  }
};

QTEST_GUILESS_MAIN(TestCliShapes)
#include "test_cli_shapes.moc"
