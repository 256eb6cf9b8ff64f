// dype-studio: the desktop application.
#include <QApplication>
#include <QMessageBox>

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QMessageBox::information(nullptr, "DyPE Studio", "The main window is being built.");
  return 0;
}
