// test-deps: pipeline
// `dype generate`'s memory plan through the built binary: --dry-run prints the plan from the file headers and
// loads nothing; a run that the plan says cannot fit is refused (exit 1) before any weight is read, with the figures
// and what to change; option errors exit 1 with a message. Models: the golden tiny-dev set and the demo.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>

#include "tests/support/golden.h"

namespace fs = std::filesystem;

namespace {

// The `dype` binary of this build: $DYPE_CLI, else <build>/app/dype beside <build>/tests/<this test>.
QString dype_cli() {
  if (const char* env = std::getenv("DYPE_CLI")) return QString::fromLocal8Bit(env);
  return QString::fromStdString(
      (fs::canonical("/proc/self/exe").parent_path().parent_path() / "app" / "dype").string());
}

struct Run {
  int code = -1;
  QString out, err;
};

Run run(const QStringList& args) {
  QProcess p;
  p.start(dype_cli(), QStringList{QStringLiteral("generate")} + args);
  Run r;
  if (!p.waitForFinished(120000)) return r;
  r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
  r.out = QString::fromUtf8(p.readAllStandardOutput());
  r.err = QString::fromUtf8(p.readAllStandardError());
  return r;
}

QString tiny() { return QString::fromStdString(dype::test::golden_root() + "/models/tiny-dev/comfy/flux.safetensors"); }

}  // namespace

class TestCliPlan : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

 private slots:
  void dry_run_prints_the_plan_and_loads_nothing() {
    const QString png = tmp_.filePath(QStringLiteral("dry.png"));
    const Run r =
        run({"--model", tiny(), "--prompt", "x", "--width", "256", "--height", "256", "--dry-run", "--output", png});
    QCOMPARE(r.code, 0);
    for (const char* part : {"memory plan (from the file headers", "transformer", "T5 encoder", "CLIP encoder", "VAE",
                             "peak", "fits", "s per step"})
      QVERIFY2(r.out.contains(QLatin1String(part)), qPrintable(r.out));
    QVERIFY2(!r.err.contains(QLatin1String("loading")), qPrintable(r.err));  // no load stage ran
    QVERIFY(!QFile::exists(png));
  }

  void text_encoder_policy_is_shown() {
    const Run keep = run({"--model", tiny(), "--prompt", "x", "--dry-run", "--text-encoders", "keep"});
    QCOMPARE(keep.code, 0);
    QVERIFY2(keep.out.contains(QLatin1String("text encoders kept loaded")), qPrintable(keep.out));
    const Run release = run({"--model", tiny(), "--prompt", "x", "--dry-run", "--text-encoders", "release"});
    QVERIFY2(release.out.contains(QLatin1String("released after encoding")), qPrintable(release.out));
    const Run bad = run({"--model", tiny(), "--prompt", "x", "--dry-run", "--text-encoders", "sometimes"});
    QCOMPARE(bad.code, 1);
    QVERIFY2(bad.err.contains(QLatin1String("auto, release, keep")), qPrintable(bad.err));
  }

  void a_run_that_cannot_fit_is_refused_before_loading() {
    const QString png = tmp_.filePath(QStringLiteral("refused.png"));
    // A 1 MiB budget: nothing fits; the refusal names the figures and comes before the "loading" stage.
    const Run r = run({"--model", tiny(), "--prompt", "x", "--width", "512", "--height", "512", "--max-memory", "0.001",
                       "--output", png});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains(QLatin1String("needs about")) && r.err.contains(QLatin1String("the budget given")),
             qPrintable(r.err));
    QVERIFY2(!r.err.contains(QLatin1String("loading")), qPrintable(r.err));
    QVERIFY(!QFile::exists(png));
    // The same request with room completes.
    const Run ok = run({"--model", tiny(), "--prompt", "x", "--width", "64", "--height", "64", "--steps", "1",
                        "--max-memory", "8", "--output", png});
    QCOMPARE(ok.code, 0);
    QVERIFY(QFile::exists(png));
  }

  void bad_budget_and_missing_model_are_clear_errors() {
    const Run budget = run({"--model", "demo", "--prompt", "x", "--dry-run", "--max-memory", "lots"});
    QCOMPARE(budget.code, 1);
    QVERIFY2(budget.err.contains(QLatin1String("max-memory")), qPrintable(budget.err));
    const Run missing = run({"--model", "/nonexistent/flux1-dev.safetensors", "--prompt", "x", "--dry-run"});
    QCOMPARE(missing.code, 1);
    QVERIFY2(missing.err.contains(QLatin1String("/nonexistent/flux1-dev.safetensors")), qPrintable(missing.err));
  }
};

QTEST_GUILESS_MAIN(TestCliPlan)
#include "test_cli_plan.moc"
