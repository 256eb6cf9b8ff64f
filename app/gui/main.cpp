// dype-studio: the desktop application. Thin: parse the command line, wire Settings and MainWindow, run.
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QIcon>
#include <QTimer>
#include <cstdio>
#include <memory>

#include "ui/dype_panel.h"
#include "ui/flux_panel.h"
#include "ui/main_window.h"
#include "ui/model_panel.h"
#include "ui/prompt_panel.h"
#include "ui/resolution_panel.h"
#include "ui/settings.h"

namespace {

// --screenshot: grab the window once `step` steps have been shown (a preview included), then cancel and quit;
// or when the run ends earlier. Used by docs/screenshot.sh under Xvfb.
void armScreenshot(dype::ui::MainWindow& window, const QString& file, int step) {
  auto grabbed = std::make_shared<bool>(false);
  auto grab = [&window, file, grabbed] {
    if (*grabbed) return;
    *grabbed = true;
    // Let the last preview and the plot marker paint before grabbing.
    QTimer::singleShot(300, &window, [&window, file] {
      const bool ok = window.grab().save(file);
      std::fprintf(ok ? stdout : stderr, ok ? "screenshot written to %s\n" : "could not write %s\n", qPrintable(file));
      window.cancelGeneration();
      QTimer::singleShot(0, qApp, [ok] { QCoreApplication::exit(ok ? 0 : 1); });
    });
  };
  QObject::connect(&window, &dype::ui::MainWindow::stepShown, &window, [grab, step](int s, int total) {
    if (s >= std::min(step, total)) grab();
  });
  QObject::connect(&window, &dype::ui::MainWindow::runFinished, &window, grab);
  QObject::connect(&window, &dype::ui::MainWindow::runFailed, &window, [](const QString& message) {
    std::fprintf(stderr, "generation failed: %s\n", qPrintable(message));
    QCoreApplication::exit(1);
  });
}

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("DyPE Studio"));
  QApplication::setOrganizationName(QStringLiteral("dype"));
  QApplication::setApplicationVersion(QStringLiteral(DYPE_VERSION));
  QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/dype-studio-256.png")));

  QCommandLineParser cli;
  cli.setApplicationDescription(QStringLiteral("Ultra-high-resolution FLUX.1 image generation with DyPE."));
  cli.addHelpOption();
  cli.addVersionOption();
  const QCommandLineOption settingsOpt(QStringLiteral("settings"), QStringLiteral("Use this settings file (INI)."),
                                       QStringLiteral("file"));
  const QCommandLineOption modelOpt(
      QStringLiteral("model"),
      QStringLiteral("\"demo\", \"demo-random\", a diffusers folder or a transformer file (this session)."),
      QStringLiteral("path"));
  const QCommandLineOption promptOpt(QStringLiteral("prompt"), QStringLiteral("Prompt text."), QStringLiteral("text"));
  const QCommandLineOption sizeOpt(QStringLiteral("size"), QStringLiteral("Output size, e.g. 2048x2048."),
                                   QStringLiteral("WxH"));
  const QCommandLineOption stepsOpt(QStringLiteral("steps"), QStringLiteral("Sampling steps."), QStringLiteral("n"));
  const QCommandLineOption seedOpt(QStringLiteral("seed"), QStringLiteral("Seed (turns Random off)."),
                                   QStringLiteral("n"));
  const QCommandLineOption generateOpt(QStringLiteral("generate"), QStringLiteral("Start generating at once."));
  const QCommandLineOption shotOpt(QStringLiteral("screenshot"),
                                   QStringLiteral("Grab the window during the run into this PNG, then quit "
                                                  "(implies --generate)."),
                                   QStringLiteral("file"));
  const QCommandLineOption shotStepOpt(QStringLiteral("screenshot-step"),
                                       QStringLiteral("Step after which --screenshot grabs (default 3)."),
                                       QStringLiteral("n"), QStringLiteral("3"));
  cli.addOptions({settingsOpt, modelOpt, promptOpt, sizeOpt, stepsOpt, seedOpt, generateOpt, shotOpt, shotStepOpt});
  cli.process(app);

  std::unique_ptr<dype::ui::Settings> settings = cli.isSet(settingsOpt)
                                                     ? std::make_unique<dype::ui::Settings>(cli.value(settingsOpt))
                                                     : std::make_unique<dype::ui::Settings>();
  dype::ui::MainWindow window(*settings);

  if (cli.isSet(modelOpt)) {
    dype::ui::ModelChoice choice = window.modelPanel()->choice();
    const QString model = cli.value(modelOpt);
    if (model == QLatin1String("demo")) {
      choice.source = dype::ui::ModelChoice::Source::Demo;
    } else if (model == QLatin1String("demo-random")) {
      choice.source = dype::ui::ModelChoice::Source::DemoRandom;
    } else if (QFileInfo(model).isDir()) {
      choice.source = dype::ui::ModelChoice::Source::Diffusers;
      choice.diffusersFolder = QDir(model).absolutePath();
    } else {
      choice.source = dype::ui::ModelChoice::Source::SingleFiles;
      choice.transformerFile = QFileInfo(model).absoluteFilePath();
    }
    window.modelPanel()->setChoice(choice);
  }
  if (cli.isSet(promptOpt)) window.promptPanel()->setPrompt(cli.value(promptOpt));
  if (cli.isSet(sizeOpt)) {
    const QStringList wh = cli.value(sizeOpt).toLower().split(QLatin1Char('x'));
    if (wh.size() != 2 || wh[0].toInt() <= 0 || wh[1].toInt() <= 0) {
      std::fprintf(stderr, "--size expects WIDTHxHEIGHT, e.g. 2048x2048\n");
      return 2;
    }
    window.resolutionPanel()->setSize(wh[0].toInt(), wh[1].toInt());
  }
  if (cli.isSet(stepsOpt)) {
    dype::GenerationRequest r = window.currentRequest();
    r.steps = cli.value(stepsOpt).toInt();
    window.fluxPanel()->load(r);
  }
  if (cli.isSet(seedOpt)) {
    window.fluxPanel()->setRandomSeed(false);
    window.fluxPanel()->setSeed(cli.value(seedOpt).toULongLong());
  }
  window.show();

  if (cli.isSet(shotOpt)) armScreenshot(window, cli.value(shotOpt), cli.value(shotStepOpt).toInt());
  if (cli.isSet(generateOpt) || cli.isSet(shotOpt))
    QTimer::singleShot(0, &window, &dype::ui::MainWindow::startGeneration);
  return app.exec();
}
