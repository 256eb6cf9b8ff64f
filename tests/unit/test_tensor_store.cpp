// test-deps: io
// TensorStore over files written byte by byte by the test: Hugging Face sharded indexes, folders of files, and
// the errors for broken indexes (missing shard, shard outside the folder, tensor not where the index says, ...).
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>

#include "core/common/error.h"
#include "core/io/tensor_store.h"
#include "tests/support/safetensors_writer.h"

using dype::io::TensorStore;
using dype::test::le_bytes;
namespace fs = std::filesystem;

class TestTensorStore : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir tmp_;
  int counter_ = 0;

  // A fresh folder for one scenario.
  std::string folder() {
    const std::string d = tmp_.path().toStdString() + "/case" + std::to_string(counter_++);
    fs::create_directories(d);
    return d;
  }
  // Two shards: a.* in shard 1 (F32), b.* in shard 2 (BF16 and I64).
  void write_shards(const std::string& d) {
    dype::test::write_safetensors(d + "/model-00001-of-00002.safetensors",
                                  {{"a.weight", "F32", {2, 2}, le_bytes(std::vector<float>{1, 2, 3, 4})},
                                   {"a.bias", "F32", {2}, le_bytes(std::vector<float>{-1, -2})}});
    dype::test::write_safetensors(
        d + "/model-00002-of-00002.safetensors",
        {{"b.weight", "BF16", {3}, le_bytes(std::vector<std::uint16_t>{0x3F80, 0x4000, 0xC040})},
         {"b.ids", "I64", {2}, le_bytes(std::vector<std::int64_t>{7, -9})}});
  }
  static std::string index_json(const std::string& weight_map_body) {
    return R"({"metadata":{"total_size":44},"weight_map":{)" + weight_map_body + "}}";
  }
  static std::string good_map() {
    return R"("a.weight":"model-00001-of-00002.safetensors","a.bias":"model-00001-of-00002.safetensors",)"
           R"("b.weight":"model-00002-of-00002.safetensors","b.ids":"model-00002-of-00002.safetensors")";
  }

  template <typename E>
  void expect_error(const std::string& path, const std::string& fragment) {
    try {
      TensorStore::open(path);
    } catch (const E& e) {
      QVERIFY2(std::string(e.what()).find(fragment) != std::string::npos, e.what());
      return;
    } catch (const std::exception& e) {
      QFAIL(qPrintable(QString("wrong exception type: ") + e.what()));
    }
    QFAIL(qPrintable(QString::fromStdString("no error for " + path + " (expected: " + fragment + ")")));
  }

 private slots:
  void initTestCase() { QVERIFY(tmp_.isValid()); }

  void sharded_index() {
    const std::string d = folder();
    write_shards(d);
    dype::test::write_file(d + "/model.safetensors.index.json", index_json(good_map()));
    for (const std::string& p : {d + "/model.safetensors.index.json", d}) {  // the index, or its folder
      auto store = TensorStore::open(p);
      QCOMPARE(store->files().size(), std::size_t{2});
      QCOMPARE(store->names(), (std::vector<std::string>{"a.bias", "a.weight", "b.ids", "b.weight"}));
      QVERIFY(store->contains("b.ids") && !store->contains("c"));
      QCOMPARE(store->find("a.weight")->shape, (std::vector<std::int64_t>{2, 2}));
      QCOMPARE(store->tensor("a.weight")[1][0].item<float>(), 3.0f);
      QCOMPARE(store->tensor("b.weight").scalar_type(), at::kBFloat16);
      QCOMPARE(store->tensor("b.weight", at::kFloat)[2].item<float>(), -3.0f);
      QCOMPARE(store->tensor("b.ids")[1].item<std::int64_t>(), std::int64_t{-9});
      QCOMPARE(store->label(), p == d ? d + "/model.safetensors.index.json" : p);
      QVERIFY_EXCEPTION_THROWN(store->tensor("missing"), dype::ModelError);
    }
  }

  void folder_of_files_and_single_file() {
    const std::string d = folder();
    write_shards(d);
    auto store = TensorStore::open(d);
    QCOMPARE(store->names().size(), std::size_t{4});
    QCOMPARE(store->tensor("a.bias")[0].item<float>(), -1.0f);
    auto one = TensorStore::open(d + "/model-00002-of-00002.safetensors");
    QCOMPARE(one->names(), (std::vector<std::string>{"b.ids", "b.weight"}));
    auto two =
        TensorStore::from_files({d + "/model-00001-of-00002.safetensors", d + "/model-00002-of-00002.safetensors"});
    QCOMPARE(two->names().size(), std::size_t{4});
    QVERIFY(two->label().find("+1 shards") != std::string::npos);
  }

  void index_errors() {
    {  // shard named by the index does not exist
      const std::string d = folder();
      write_shards(d);
      fs::remove(d + "/model-00002-of-00002.safetensors");
      dype::test::write_file(d + "/m.safetensors.index.json", index_json(good_map()));
      expect_error<dype::IoError>(d + "/m.safetensors.index.json",
                                  "names shard 'model-00002-of-00002.safetensors' (for tensor 'b.");
      expect_error<dype::IoError>(d + "/m.safetensors.index.json", "does not exist: incomplete download?");
    }
    {  // shard outside the index's folder
      const std::string d = folder();
      write_shards(d);
      dype::test::write_file(d + "/m.safetensors.index.json",
                             index_json(R"("a.weight":"../model-00001-of-00002.safetensors")"));
      expect_error<dype::FormatError>(d + "/m.safetensors.index.json", "leaves the index's folder");
      dype::test::write_file(d + "/m.safetensors.index.json", index_json(R"("a.weight":"/etc/passwd")"));
      expect_error<dype::FormatError>(d + "/m.safetensors.index.json", "shard name '/etc/passwd'");
      dype::test::write_file(d + "/m.safetensors.index.json", index_json(R"("a.weight":"..")"));
      expect_error<dype::FormatError>(d + "/m.safetensors.index.json", "leaves the index's folder");
      dype::test::write_file(d + "/m.safetensors.index.json", index_json(R"("a.weight":"")"));
      expect_error<dype::FormatError>(d + "/m.safetensors.index.json", "leaves the index's folder");
    }
    {  // tensor not in the shard the index names
      const std::string d = folder();
      write_shards(d);
      dype::test::write_file(
          d + "/m.safetensors.index.json",
          index_json(R"("a.weight":"model-00002-of-00002.safetensors","b.ids":"model-00002-of-00002.safetensors")"));
      expect_error<dype::FormatError>(d + "/m.safetensors.index.json", "places tensor 'a.weight' in");
      dype::test::write_file(d + "/m.safetensors.index.json",
                             index_json(R"("zzz":"model-00002-of-00002.safetensors")"));
      expect_error<dype::FormatError>(d + "/m.safetensors.index.json", "'zzz'");
      expect_error<dype::FormatError>(d + "/m.safetensors.index.json", "no shard holds it");
    }
    {  // broken index files
      const std::string d = folder();
      write_shards(d);
      dype::test::write_file(d + "/m.safetensors.index.json", "{\"weight_map\": ");
      expect_error<dype::FormatError>(d + "/m.safetensors.index.json", "is not valid JSON");
      dype::test::write_file(d + "/m.safetensors.index.json", "[1]");
      expect_error<dype::FormatError>(d + "/m.safetensors.index.json", "has no \"weight_map\" object");
      dype::test::write_file(d + "/m.safetensors.index.json", index_json(""));
      expect_error<dype::FormatError>(d + "/m.safetensors.index.json", "lists no tensors");
      dype::test::write_file(d + "/m.safetensors.index.json", index_json(R"("a.weight":3)"));
      expect_error<dype::FormatError>(d + "/m.safetensors.index.json", "entry 'a.weight' is not a file name");
      dype::test::write_file(d + "/n.safetensors.index.json", index_json(good_map()));
      expect_error<dype::FormatError>(d, "holds several *.safetensors.index.json files");
    }
    {  // the same tensor in two files
      const std::string d = folder();
      write_shards(d);
      dype::test::write_safetensors(d + "/extra.safetensors",
                                    {{"a.bias", "F32", {2}, le_bytes(std::vector<float>{5, 6})}});
      expect_error<dype::FormatError>(d, "tensor 'a.bias' appears in both");
    }
    {  // a corrupt shard surfaces the shard's own message
      const std::string d = folder();
      write_shards(d);
      dype::test::write_file(d + "/model-00002-of-00002.safetensors", "short");
      dype::test::write_file(d + "/m.safetensors.index.json", index_json(good_map()));
      expect_error<dype::FormatError>(d + "/m.safetensors.index.json", "model-00002-of-00002.safetensors");
    }
    expect_error<dype::IoError>(folder(), "holds no .safetensors file");
    expect_error<dype::IoError>(tmp_.path().toStdString() + "/nothing-here", "does not exist");
    QVERIFY_EXCEPTION_THROWN(TensorStore::from_files({}), dype::InvalidArgument);
  }
};

QTEST_APPLESS_MAIN(TestTensorStore)
#include "test_tensor_store.moc"
