// test-deps: pipeline
// The request contract: GenerationRequest::validate reports every problem at once, under the same limits the
// pipeline enforces (FluxPipeline::generate refuses exactly what validate reports), and schedule_for gives the
// sigmas the pipeline ran (GenerationResult::sigmas and per pass), so that `dype schedule` and the GUI plot show
// what a run samples. Also the names that image metadata stores (noise, shift) keep their spelling.
#include <QtTest>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/pipeline/flux_pipeline.h"
#include "core/pipeline/passes.h"
#include "tests/support/small_request.h"

using namespace dype;

namespace {

using test::small_request;  // tests/support/small_request.h

bool any_contains(const std::vector<std::string>& problems, const std::string& part) {
  for (const auto& p : problems)
    if (p.find(part) != std::string::npos) return true;
  return false;
}

QString joined(const std::vector<std::string>& problems) {
  QString s;
  for (const auto& p : problems) s += QString::fromStdString(p) + "\n";
  return s;
}

// The InvalidArgument message generate() throws for `r` (empty when it throws nothing of that type).
std::string refusal(FluxPipeline& pipe, const GenerationRequest& r) {
  try {
    pipe.generate(r);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return {};
}

}  // namespace

class TestRequestContract : public QObject {
  Q_OBJECT
  std::unique_ptr<FluxPipeline> pipe_;

 private slots:
  void initTestCase() {
    pipe_ = FluxPipeline::load(test::demo_random_paths(), LoadOptions{});  // the demo model
    QVERIFY(pipe_);
  }

  void a_valid_request_has_no_problems() {
    QVERIFY2(small_request().validate().empty(), qPrintable(joined(small_request().validate())));
    QVERIFY(GenerationRequest{}.validate().empty());
    GenerationRequest r = small_request();
    r.refine.enabled = true;  // auto base size 64x48 from base resolution 64
    QVERIFY2(r.validate().empty(), qPrintable(joined(r.validate())));
  }

  void validate_reports_every_problem_at_once() {
    GenerationRequest r = small_request();
    r.width = 100;                                          // not a multiple of 16
    r.steps = 0;                                            // below 1
    r.guidance = std::numeric_limits<double>::quiet_NaN();  // not finite
    r.preview_every = -1;
    r.bit_depth = 12;
    r.dype.lambda_s = -1;
    r.dype.base_resolution = 100;
    r.vae_tile = 16;
    r.vae_tile_overlap = 12;  // more than half a tile
    r.init_image = "start.png";
    r.strength = 1.5;
    r.init_fit = "zoom";
    r.refine.enabled = true;
    r.refine.base_width = 48;  // base height missing
    r.refine.steps = -2;
    r.refine.upscale = "nearest";
    const std::vector<std::string> problems = r.validate();
    const QString all = joined(problems);
    for (const char* part : {"multiples of 16", "steps must be between 1 and 10000", "guidance", "preview interval",
                             "bit depth", "DyPE strength", "base resolution", "VAE tiling", "img2img strength", "zoom",
                             "nearest", "both width and height", "refine steps"})
      QVERIFY2(any_contains(problems, part), qPrintable(QString("'%1' missing in:\n%2").arg(part, all)));
    QVERIFY2(problems.size() >= 13, qPrintable(all));
    // One message per problem: none repeats.
    for (std::size_t i = 0; i < problems.size(); ++i)
      for (std::size_t j = i + 1; j < problems.size(); ++j) QVERIFY2(problems[i] != problems[j], qPrintable(all));
    // The refine base size rules are reported as well when the rest is fine.
    GenerationRequest big = small_request();
    big.refine.enabled = true;
    big.refine.base_width = 256;
    big.refine.base_height = 96;
    QVERIFY(any_contains(big.validate(), "larger than the output"));
  }

  void the_limits_are_the_ones_the_pipeline_enforces() {
    const RequestLimits limits;
    QCOMPARE(limits.min_steps, 1);
    QCOMPARE(limits.max_steps, 10000);
    QCOMPARE(limits.max_pixels, LoadOptions{}.max_pixels);
    // At the edges: what validate accepts, the pipeline accepts (checked here without running 10000 steps: the
    // pipeline refuses before any work, so a refusal message is all a call costs).
    GenerationRequest r = small_request();
    r.steps = limits.max_steps + 1;
    QVERIFY(any_contains(r.validate(), "between 1 and 10000"));
    QVERIFY(refusal(*pipe_, r).find("between 1 and 10000") != std::string::npos);
    r.steps = limits.max_steps;
    QVERIFY(r.validate().empty());
    // Each problem alone: the pipeline's refusal is validate's message.
    std::vector<GenerationRequest> bad(8, small_request());
    bad[0].width = 120;
    bad[1].steps = 0;
    bad[2].guidance = std::numeric_limits<double>::infinity();
    bad[3].preview_every = -3;
    bad[4].bit_depth = 32;
    bad[5].dype.lambda_t = -0.5;
    bad[6].init_image = "missing.png";
    bad[6].strength = 0;
    bad[7].refine.enabled = true;
    bad[7].refine.strength = 2;
    for (const GenerationRequest& b : bad) {
      const std::vector<std::string> problems = b.validate();
      QCOMPARE(problems.size(), std::size_t{1});
      QCOMPARE(QString::fromStdString(refusal(*pipe_, b)), QString::fromStdString(problems.front()));
    }
    // Several problems: one InvalidArgument naming them all.
    GenerationRequest two = small_request();
    two.steps = 0;
    two.bit_depth = 7;
    const std::string message = refusal(*pipe_, two);
    for (const std::string& p : two.validate()) QVERIFY2(message.find(p) != std::string::npos, message.c_str());
    // The pixel limit is the loaded pipeline's (LoadOptions::max_pixels), as validate's with the same limit.
    LoadOptions small;
    small.max_pixels = 64 * 64;
    auto limited = FluxPipeline::load(test::demo_random_paths(), small);
    RequestLimits tight;
    tight.max_pixels = small.max_pixels;
    const std::vector<std::string> over = small_request().validate(tight);
    QCOMPARE(over.size(), std::size_t{1});
    QVERIFY(over.front().find("limit") != std::string::npos);
    QCOMPARE(QString::fromStdString(refusal(*limited, small_request())), QString::fromStdString(over.front()));
  }

  void schedule_for_is_what_the_pipeline_ran_data() {
    QTest::addColumn<int>("shift");
    QTest::addColumn<bool>("refine");
    QTest::newRow("auto") << int(ShiftPolicy::Auto) << false;
    QTest::newRow("flux") << int(ShiftPolicy::Flux) << false;
    QTest::newRow("none") << int(ShiftPolicy::None) << false;
    QTest::newRow("fixed") << int(ShiftPolicy::Fixed) << false;
    QTest::newRow("refine") << int(ShiftPolicy::Flux) << true;
  }
  void schedule_for_is_what_the_pipeline_ran() {
    QFETCH(int, shift);
    QFETCH(bool, refine);
    GenerationRequest r = small_request(4);
    r.shift = static_cast<ShiftPolicy>(shift);
    r.shift_mu = 0.8;
    if (refine) {
      r.refine.enabled = true;
      r.refine.strength = 0.5;
    }
    const GenerationResult res = pipe_->generate(r);
    QVERIFY(!res.cancelled);
    const PassSchedule s = schedule_for(r, pipe_->is_schnell());
    QCOMPARE(s.sigmas, res.sigmas);  // exact: the same float32 recipe
    QCOMPARE(s.shifted, res.shifted);
    QCOMPARE(s.mu, res.mu);
    QCOMPARE(s.evaluations().size(), res.sigmas.size() - 1);  // the final 0 is no model evaluation
    const std::vector<PassPlan> passes = plan_passes(r);
    QCOMPARE(res.passes.size(), passes.size());
    for (std::size_t i = 0; i < passes.size(); ++i) {
      const PassSchedule p = schedule_for(r, pipe_->is_schnell(), passes[i]);
      QCOMPARE(p.sigmas, res.passes[i].sigmas);
      QCOMPARE(p.mu, res.passes[i].mu);
    }
    if (refine) QCOMPARE(int(res.sigmas.size()) - 1, passes.back().steps_run());  // pass 2 starts part-way down
  }

  void metadata_names_keep_their_spelling() {
    GenerationRequest r;
    r.noise = sampling::NoiseConvention::Bfl;
    r.shift = ShiftPolicy::Flux;
    const nlohmann::json j = r.to_json();
    QCOMPARE(j.at("noise").get<std::string>(), std::string("bfl"));
    QCOMPARE(j.at("shift").get<std::string>(), std::string("flux"));
    const GenerationRequest back = GenerationRequest::from_json(j);
    QVERIFY(back.noise == sampling::NoiseConvention::Bfl);
    QVERIFY(back.shift == ShiftPolicy::Flux);
    QCOMPARE(std::string(sampling::noise_convention_name(sampling::NoiseConvention::Comfy)), std::string("comfy"));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, sampling::parse_noise_convention("gpu"));
    double mu = 0;
    QVERIFY(parse_shift_option("1.25", &mu) == ShiftPolicy::Fixed);
    QCOMPARE(mu, 1.25);
    QVERIFY(parse_shift_option("clamp", &mu) == ShiftPolicy::Clamp);
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, parse_shift_option("fixed", &mu));  // a number says "fixed"
  }
};

QTEST_APPLESS_MAIN(TestRequestContract)
#include "test_request_contract.moc"
