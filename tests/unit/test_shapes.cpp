// test-deps: shapes
// The demo model's procedural data and its scorer: captions round-trip through the grammar, bad captions are
// refused with the word at fault, scenes are deterministic per (seed, index), drawing puts the object where the
// scene says, and the scorer accepts the generator's own pictures at every size while rejecting each kind of
// failure the DyPE measurement looks for (wrong colour, duplicated objects, wrong place, wrong background, speckle).
#include <QtTest>
#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "core/common/error.h"
#include "core/shapes/render.h"
#include "core/shapes/scene.h"
#include "core/shapes/score.h"

using namespace dype;
using namespace dype::shapes;

namespace {

Scene scene_of(const char* caption) { return parse_caption(caption); }

// The message of the InvalidArgument that f throws; "" when it throws nothing (any other exception fails the test).
template <class F>
std::string invalid_argument_of(F f) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

// Fraction of pixels within 30 of colour c.
double share_of(const RgbImage& im, Colour c) {
  const Rgb p = rgb_of(c);
  std::size_t n = 0;
  for (std::size_t i = 0; i < im.rgb8.size(); i += 3) {
    const double dr = im.rgb8[i] - p.r, dg = im.rgb8[i + 1] - p.g, db = im.rgb8[i + 2] - p.b;
    n += std::sqrt(dr * dr + dg * dg + db * db) < 30;
  }
  return static_cast<double>(n) / (im.rgb8.size() / 3);
}

}  // namespace

class TestShapes : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void captionsRoundTrip() {
    std::set<std::string> captions;
    for (std::uint64_t i = 0; i < 2000; ++i) {
      const Scene s = random_scene(7, i);
      const std::string c = caption(s);
      captions.insert(c);
      const Scene p = parse_caption(c);
      QCOMPARE(caption(p), c);
      QVERIFY(p.shape == s.shape && p.colour == s.colour && p.place == s.place);
      QVERIFY(is_distinguishable(s));
    }
    QVERIFY2(captions.size() > 1000, "2000 draws should give mostly distinct captions");
    QCOMPARE(caption(scene_of("a red star on a blue background, top left")),
             std::string("a red star on a blue background, top left"));
    // Case, spacing and a final full stop do not matter.
    QCOMPARE(caption(scene_of("  A White RING on a green to black gradient,   center. ")),
             std::string("a white ring on a green to black gradient, center"));
    const Scene striped = scene_of("a yellow cross on a blue background with black stripes, bottom right");
    QVERIFY(striped.background.pattern == Pattern::Stripes);
    QVERIFY(striped.background.pattern_colour == Colour::Black);
    QVERIFY(striped.place == Place::BottomRight);
    QVERIFY(scene_of("a black square on a white background with red dots, top").background.pattern == Pattern::Dots);
  }

  void badCaptionsSayWhy() {
    const std::string e1 = invalid_argument_of([] { parse_caption("a pink star on a blue background, top"); });
    QVERIFY2(e1.find("'pink'") != std::string::npos && e1.find("a colour") != std::string::npos, e1.c_str());
    const std::string e2 = invalid_argument_of([] { parse_caption("a red star on a blue background"); });
    QVERIFY2(e2.find("','") != std::string::npos && e2.find("end of caption") != std::string::npos, e2.c_str());
    const std::string e3 = invalid_argument_of([] { parse_caption("a red star on a blue background, middle"); });
    QVERIFY2(e3.find("a place") != std::string::npos && e3.find("'middle'") != std::string::npos, e3.c_str());
    const std::string e4 =
        invalid_argument_of([] { parse_caption("a red star on a blue background, top left please"); });
    QVERIFY2(e4.find("'please'") != std::string::npos, e4.c_str());
    // Colours too close to score apart are refused, saying so.
    const std::string e5 = invalid_argument_of([] { parse_caption("a orange star on a yellow background, top"); });
    QVERIFY2(e5.find("too close in colour") != std::string::npos, e5.c_str());
    QVERIFY(!invalid_argument_of([] { parse_caption("a red star on a red to blue gradient, top"); }).empty());
  }

  void scenesAreDeterministic() {
    for (std::uint64_t i = 0; i < 50; ++i) {
      const Scene a = random_scene(3, i), b = random_scene(3, i);
      QCOMPARE(caption(a), caption(b));
      QCOMPARE(a.look.radius, b.look.radius);
      QCOMPARE(render(a, 64, 64).rgb8, render(b, 64, 64).rgb8);
    }
    // The pattern scale stretches the stripe / dot period and nothing else: the same draws, the same captions.
    for (std::uint64_t i = 0; i < 50; ++i) {
      const Scene a = random_scene(3, i), b = random_scene(3, i, 2.0);
      QCOMPARE(caption(a), caption(b));
      QCOMPARE(a.look.radius, b.look.radius);
      QCOMPARE(b.look.pattern_period, 2.0 * a.look.pattern_period);
      QVERIFY(b.look.pattern_period >= 0.16 && b.look.pattern_period <= 0.32);
    }
    QVERIFY(!invalid_argument_of([] { random_scene(3, 0, 0.0); }).empty());
    QVERIFY(!invalid_argument_of([] { random_scene(3, 0, 5.0); }).empty());
    int same = 0;
    for (std::uint64_t i = 0; i < 50; ++i) same += caption(random_scene(3, i)) == caption(random_scene(4, i));
    QVERIFY2(same < 10, "another seed draws another data set");
    // Every field takes every value over a data set.
    std::set<int> shapes, colours, places, kinds;
    for (std::uint64_t i = 0; i < 500; ++i) {
      const Scene s = random_scene(1, i);
      shapes.insert(static_cast<int>(s.shape));
      colours.insert(static_cast<int>(s.colour));
      places.insert(static_cast<int>(s.place));
      kinds.insert(s.background.kind == BackgroundKind::Gradient ? 3 : static_cast<int>(s.background.pattern));
      QVERIFY(s.look.radius >= 0.11 && s.look.radius <= 0.15);
    }
    QCOMPARE(int(shapes.size()), kShapeCount);
    QCOMPARE(int(colours.size()), kColourCount);
    QCOMPARE(int(places.size()), kPlaceCount);
    QCOMPARE(int(kinds.size()), 4);
  }

  void drawingPutsTheObjectWhereTheSceneSays() {
    Scene s = scene_of("a red circle on a white background, top right");
    s.look.radius = 0.15;
    const RgbImage im = render(s, 300, 300);
    // Circle of radius 45 px: area π·45² / 300² = 7.07 % of the image, anti-aliased rim included in ±0.5 %.
    QVERIFY2(std::fabs(share_of(im, Colour::Red) - M_PI * 0.15 * 0.15) < 0.005,
             qPrintable(QString::number(share_of(im, Colour::Red))));
    auto at = [&](int x, int y) { return &im.rgb8[3 * (y * 300 + x)]; };
    QCOMPARE(int(at(250, 50)[0]), 215);  // the centre of the top-right third is red
    QCOMPARE(int(at(250, 50)[1]), 40);
    QCOMPARE(int(at(50, 250)[1]), 240);  // bottom left is background
    // Gradient: top row is the first colour, bottom row the second.
    const RgbImage g = render(scene_of("a white cross on a red to blue gradient, center"), 64, 64);
    QVERIFY(std::abs(g.rgb8[0] - 215) < 6 && std::abs(g.rgb8[2] - 40) < 6);
    const std::size_t last = 3 * (63 * 64);
    QVERIFY(std::abs(g.rgb8[last] - 40) < 6 && std::abs(g.rgb8[last + 2] - 220) < 6);
    // Shapes: the unit-radius outlines.
    QVERIFY(inside_shape(Shape::Ring, 0.8, 0) && !inside_shape(Shape::Ring, 0.2, 0));
    QVERIFY(inside_shape(Shape::Star, 0, -0.95) && !inside_shape(Shape::Star, 0.6, -0.6));
    QVERIFY(inside_shape(Shape::Triangle, 0, 0.4) && !inside_shape(Shape::Triangle, 0.7, -0.5));
    QVERIFY(inside_shape(Shape::Cross, 0.9, 0) && !inside_shape(Shape::Cross, 0.6, 0.6));
    QVERIFY(!invalid_argument_of([&] { render(s, 4, 300); }).empty());
  }

  // The metric's premise: the generator's own pictures pass, at the base size and at 2× and 4× per side.
  void scorerAcceptsGeneratedPictures_data() {
    QTest::addColumn<int>("size");
    QTest::newRow("64") << 64;
    QTest::newRow("256") << 256;
    QTest::newRow("512") << 512;
    QTest::newRow("1024") << 1024;
  }
  void scorerAcceptsGeneratedPictures() {
    QFETCH(int, size);
    const int n = size >= 1024 ? 40 : 300;
    int accepted = 0;
    for (int i = 0; i < n; ++i) {
      const Scene s = random_scene(11, static_cast<std::uint64_t>(i));
      const Score sc = score(render(s, size, size), parse_caption(caption(s)));
      if (sc.accepted())
        ++accepted;
      else
        qInfo("%d: %s -> %s", i, caption(s).c_str(), sc.summary(s).c_str());
    }
    qInfo("size %d: %d of %d accepted", size, accepted, n);
    QCOMPARE(accepted, n);
  }

  // A trained model's pictures are not clean: per-pixel noise of σ = 25 (Box–Muller over a fixed LCG) changes no
  // verdict.
  void scorerToleratesNoise() {
    std::uint64_t state = 12345;
    auto uniform = [&] {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      return (static_cast<double>(state >> 11) + 0.5) * 0x1.0p-53;
    };
    int accepted = 0;
    const int n = 200;
    for (int i = 0; i < n; ++i) {
      const Scene s = random_scene(5, static_cast<std::uint64_t>(i));
      RgbImage im = render(s, 256, 256);
      for (auto& v : im.rgb8) {
        const double z = std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform());
        v = static_cast<std::uint8_t>(std::clamp(std::lround(v + 25 * z), 0l, 255l));
      }
      const Score sc = score(im, s);
      accepted += sc.accepted();
      if (!sc.accepted()) qInfo("%d: %s -> %s", i, caption(s).c_str(), sc.summary(s).c_str());
    }
    QCOMPARE(accepted, n);
  }

  void scorerRejectsEachFailure() {
    const Scene s = scene_of("a red star on a blue background, top left");
    Scene drawn = s;
    drawn.look.radius = 0.14;
    const RgbImage good = render(drawn, 256, 256);
    QVERIFY(score(good, s).accepted());
    QCOMPARE(score(good, s).summary(s), std::string("accepted"));

    // Wrong colour: the caption asks for green.
    const Score green = score(good, scene_of("a green star on a blue background, top left"));
    QVERIFY(!green.colour_ok && !green.accepted());
    QVERIFY2(green.summary(s).find("no red object") != std::string::npos, green.summary(s).c_str());

    // Duplicated object: the classic extrapolation failure.
    RgbImage twice = good;
    Scene second = drawn;
    second.place = Place::BottomRight;
    draw_object(twice, second);
    const Score dup = score(twice, s);
    QCOMPARE(dup.components, 2);
    QCOMPARE(dup.count_error(), 1);
    QVERIFY(!dup.count_ok && !dup.accepted());
    QVERIFY2(dup.summary(s).find("2 red objects") != std::string::npos, dup.summary(s).c_str());

    // Wrong place.
    const Score moved = score(good, scene_of("a red star on a blue background, center"));
    QVERIFY(moved.colour_ok && moved.count_ok && !moved.place_ok);
    QVERIFY(moved.found_place == Place::TopLeft);

    // Wrong background, and a missing pattern.
    QVERIFY(!score(good, scene_of("a red star on a white background, top left")).background_ok);
    QVERIFY(!score(good, scene_of("a red star on a blue background with white stripes, top left")).background_ok);
    QVERIFY(!score(good, scene_of("a red star on a blue to white gradient, top left")).background_ok);

    // Speckle: isolated red pixels over the whole picture are not an object.
    Scene background_only = drawn;
    background_only.look.radius = 0;  // draws no object
    RgbImage speckle = render(background_only, 256, 256);
    for (int y = 0; y < 256; y += 9)
      for (int x = (y * 7) % 9; x < 256; x += 9) {
        std::uint8_t* p = &speckle.rgb8[3 * (y * 256 + x)];
        p[0] = 215, p[1] = 40, p[2] = 40;
      }
    const Score sp = score(speckle, s);
    QVERIFY2(!sp.colour_ok && sp.components == 0, sp.summary(s).c_str());

    // A blank picture of the background colour: nothing found, background right.
    const Score blank = score(render(background_only, 128, 128), s);
    QVERIFY(!blank.colour_ok && blank.background_ok);
  }
};

QTEST_GUILESS_MAIN(TestShapes)
#include "test_shapes.moc"
