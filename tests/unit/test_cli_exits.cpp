// test-deps: image
// `dype generate` as a user meets it (issue 15), the built CLI run as a process: every mistake a user can make on
// the command line ends with exit code 1, one line on stderr that names the problem, and no output file; Ctrl-C
// (SIGINT) during a run ends it within seconds with exit code 130, "interrupted" on stderr, and neither the output
// file nor a temporary file beside it.
#include <signal.h>
#include <unistd.h>

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <string>

#include "core/image/png_export.h"
#include "core/image/rgb_image.h"

namespace fs = std::filesystem;

namespace {

// The `dype` binary of this build: $DYPE_CLI, else the path CMake compiled in (the test depends on the target).
QString dype_cli() {
  if (const char* env = std::getenv("DYPE_CLI")) return QString::fromLocal8Bit(env);
  return QStringLiteral(DYPE_CLI_PATH);
}

// Everything in `dir` (files, folders, hidden ones such as a temporary "out.png.tmp" or ".out.png.XXXX").
QStringList entries(const QString& dir) {
  return QDir(dir).entryList(QDir::NoDotAndDotDot | QDir::AllEntries | QDir::Hidden | QDir::System);
}

}  // namespace

class TestCliExits : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  QString inputs_;      // files the commands read (an init image); never an output folder
  QString init_image_;  // a valid 64x64 PNG
  int cases_ = 0;

  // A fresh, empty output folder for one case.
  QString case_dir() {
    const QString d = tmp_.filePath(QString("case%1").arg(++cases_));
    QDir().mkpath(d);
    return d;
  }

 private slots:
  void initTestCase() {
    QVERIFY2(QFileInfo::exists(dype_cli()),
             qPrintable("the dype CLI is not built at " + dype_cli() + " (build the `dype` target, or set DYPE_CLI)"));
    QVERIFY(tmp_.isValid());
    inputs_ = tmp_.filePath("inputs");
    QVERIFY(QDir().mkpath(inputs_));
    dype::RgbImage img;
    img.width = img.height = 64;
    img.rgb8.resize(64 * 64 * 3);
    for (std::size_t i = 0; i < img.rgb8.size(); ++i) img.rgb8[i] = static_cast<std::uint8_t>(i * 7 % 251);
    init_image_ = inputs_ + "/init.png";
    dype::image::write_png(init_image_.toStdString(), img, 8);
    QVERIFY(QFileInfo::exists(init_image_));
  }

  // ---- user errors: exit 1, one line on stderr, no output ----
  void error_exits_data() {
    QTest::addColumn<QStringList>("args");     // after `generate`; "OUT" stands for the case's output file
    QTest::addColumn<QString>("out_dir");      // "" = a fresh folder of its own
    QTest::addColumn<QStringList>("message");  // every part must appear in the error line
    QTest::addColumn<bool>("before_run");      // the error comes before any work: stderr is that one line only

    const QStringList base{"--model", "demo-random", "--width", "64", "--height", "64", "--steps", "1"};
    QTest::newRow("missing --prompt") << (base + QStringList{"--output", "OUT"}) << QString()
                                      << QStringList{"--prompt TEXT is required"} << true;
    QTest::newRow("--width not a multiple of 16")
        << QStringList{"--model", "demo-random", "--prompt", "x",        "--width",
                       "1000",    "--height",    "512",      "--output", "OUT"}
        << QString() << QStringList{"1000x512", "multiples of 16", "nearest valid size is 1008x512"} << true;
    QTest::newRow("unknown option") << (base + QStringList{"--prompt", "x", "--colour", "red", "--output", "OUT"})
                                    << QString() << QStringList{"unknown option --colour"} << true;
    QTest::newRow("missing --init-image file")
        << (base + QStringList{"--prompt", "x", "--init-image", inputs_ + "/no-such.png", "--output", "OUT"})
        << QString() << QStringList{"--init-image", inputs_ + "/no-such.png", "does not exist"} << true;
    QTest::newRow("--strength 0 with --init-image")
        << (base + QStringList{"--prompt", "x", "--init-image", init_image_, "--strength", "0", "--output", "OUT"})
        << QString() << QStringList{"strength", "(0, 1]", "got 0"} << true;
    QTest::newRow("--strength without --init-image")
        << (base + QStringList{"--prompt", "x", "--strength", "0.5", "--output", "OUT"}) << QString()
        << QStringList{"--strength", "--init-image"} << true;
    QTest::newRow("--refine bigger than the output")
        << (base + QStringList{"--prompt", "x", "--refine", "128x128", "--output", "OUT"}) << QString()
        << QStringList{"128x128", "larger than the output 64x64"} << true;
    QTest::newRow("nonexistent --output folder")
        << (base + QStringList{"--prompt", "x", "--output", "OUT"}) << tmp_.filePath("no-such-folder")
        << QStringList{"--output", "no-such-folder", "does not exist"} << true;
    QTest::newRow("nonexistent --model path")
        << QStringList{"--model",  inputs_ + "/no-such-model",
                       "--prompt", "x",
                       "--width",  "64",
                       "--height", "64",
                       "--steps",  "1",
                       "--output", "OUT"}
        << QString() << QStringList{inputs_ + "/no-such-model", "does not exist"} << true;

    // An unwritable folder. chmod 0555 keeps an ordinary user out but not root (CAP_DAC_OVERRIDE: the folder IS
    // writable and the CLI rightly writes there); for root, /proc is a folder where no regular file can be created.
    const QString ro = tmp_.filePath("read-only");
    QDir().mkpath(ro);
    QFile::setPermissions(ro, QFileDevice::ReadOwner | QFileDevice::ExeOwner | QFileDevice::ReadGroup |
                                  QFileDevice::ExeGroup | QFileDevice::ReadOther | QFileDevice::ExeOther);
    if (::access(QFile::encodeName(ro).constData(), W_OK) != 0) {
      QTest::newRow("unwritable --output folder") << (base + QStringList{"--prompt", "x", "--output", "OUT"}) << ro
                                                  << QStringList{"--output", ro, "not writable"} << true;
    } else {
      // Root: access() says yes, so the CLI finds out only when it writes (after the 1-step 64x64 run).
      QTest::newRow("unwritable --output folder (as root: /proc)")
          << (base + QStringList{"--prompt", "x", "--output", "OUT"}) << QString("/proc") << QStringList{"/proc"}
          << false;
    }
  }

  void error_exits() {
    QFETCH(QStringList, args);
    QFETCH(QString, out_dir);
    QFETCH(QStringList, message);
    QFETCH(bool, before_run);
    const QString dir = out_dir.isEmpty() ? case_dir() : out_dir;
    const QStringList before = entries(dir);
    const QString out = dir + "/out.png";
    for (QString& a : args)
      if (a == "OUT") a = out;

    QProcess p;
    p.start(dype_cli(), QStringList{"generate"} + args);
    QVERIFY(p.waitForStarted(30000));
    QVERIFY2(p.waitForFinished(120000), "dype generate did not finish within 2 minutes");
    const QByteArray err = p.readAllStandardError();
    const QByteArray std_out = p.readAllStandardOutput();
    const QString report = "stderr:\n" + QString::fromUtf8(err) + "\nstdout:\n" + QString::fromUtf8(std_out);
    QCOMPARE(p.exitStatus(), QProcess::NormalExit);
    QVERIFY2(p.exitCode() == 1, qPrintable(QString("exit code %1, expected 1; ").arg(p.exitCode()) + report));

    // The message: one line, the last one on stderr; when the mistake is caught before any work, the only one.
    const QList<QByteArray> lines = err.trimmed().split('\n');
    QVERIFY2(!lines.isEmpty() && !lines.back().isEmpty(), qPrintable("no error message; " + report));
    const QString line = QString::fromUtf8(lines.back());
    QVERIFY2(line.startsWith("dype generate: error: "), qPrintable(report));
    if (before_run) QVERIFY2(lines.size() == 1, qPrintable("more than the error line on stderr; " + report));
    for (const QString& part : message)
      QVERIFY2(line.contains(part), qPrintable("the message lacks '" + part + "'; " + report));
    QVERIFY2(std_out.isEmpty(), qPrintable(report));

    // No output file, nor anything else new (a temporary file), in the output folder (ours: not /proc).
    QVERIFY(!QFileInfo::exists(out));
    if (dir.startsWith(tmp_.path())) QCOMPARE(entries(dir), before);
  }

  // ---- Ctrl-C ----
  // `dype schedule --steps` holds to the step range a generation accepts (RequestLimits): a plot of 10001 steps is
  // a schedule no run can sample.
  void scheduleStepsWithinTheGenerationLimit() {
    QProcess p;
    p.start(dype_cli(), QStringList{"schedule", "--steps", "10001"});
    QVERIFY(p.waitForStarted(30000));
    QVERIFY(p.waitForFinished(60000));
    const QString err = QString::fromUtf8(p.readAllStandardError()).trimmed();
    QCOMPARE(p.exitCode(), 1);
    QVERIFY2(err.startsWith("dype schedule: error: --steps") && err.contains("1..10000") && err.contains("10001"),
             qPrintable(err));
    QVERIFY(p.readAllStandardOutput().isEmpty());
  }

  void ctrl_c_data() {
    QTest::addColumn<QByteArray>("when");  // SIGINT once stderr shows this
    QTest::newRow("as denoising starts") << QByteArray("denoising...");
    QTest::newRow("after step 1") << QByteArray("step 1/50 ");
  }

  // 1024x1024 on the demo model: a step takes a second or more on a CPU, 50 steps cannot end before the signal.
  void ctrl_c() {
    QFETCH(QByteArray, when);
    const QString dir = case_dir();
    const QString out = dir + "/out.png";
    QProcess p;
    p.start(dype_cli(), {"generate", "--model", "demo-random", "--prompt", "a lighthouse at dusk", "--width", "1024",
                         "--height", "1024", "--steps", "50", "--output", out});
    QVERIFY(p.waitForStarted(30000));
    QByteArray err;
    QElapsedTimer wait;
    wait.start();
    while (!err.contains(when) && p.state() == QProcess::Running && wait.elapsed() < 300000) {
      p.waitForReadyRead(500);
      err += p.readAllStandardError();
    }
    QVERIFY2(err.contains(when), err.constData());
    QVERIFY2(p.state() == QProcess::Running, err.constData());

    QElapsedTimer stop;
    stop.start();
    QCOMPARE(::kill(static_cast<pid_t>(p.processId()), SIGINT), 0);
    const bool finished = p.waitForFinished(60000);
    const double seconds = stop.elapsed() / 1000.0;
    err += p.readAllStandardError();
    if (!finished) {
      p.kill();
      p.waitForFinished(10000);
    }
    QVERIFY2(finished, qPrintable("dype generate still running 60 s after SIGINT; stderr:\n" + QString::fromUtf8(err)));
    qInfo("SIGINT %s: exited %.2f s after the signal", when.constData(), seconds);
    QCOMPARE(p.exitStatus(), QProcess::NormalExit);
    QVERIFY2(p.exitCode() == 130, qPrintable(QString("exit code %1; stderr:\n").arg(p.exitCode()) + err));
    QVERIFY2(err.contains("interrupted"), err.constData());
    QVERIFY2(!err.contains("wrote "), err.constData());
    // "Within a few seconds": the cancel flag is polled after every transformer block, T5 layer and VAE tile. The
    // bound is loose for a loaded CI machine; a run that finished its step (about 2 s here) would still pass.
    QVERIFY2(seconds < 20.0, qPrintable(QString("exited only %1 s after SIGINT").arg(seconds)));
    QVERIFY(!QFileInfo::exists(out));
    QVERIFY2(entries(dir).isEmpty(), qPrintable("left behind: " + entries(dir).join(", ")));
  }
};

QTEST_GUILESS_MAIN(TestCliExits)
#include "test_cli_exits.moc"
