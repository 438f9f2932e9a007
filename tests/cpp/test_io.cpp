// The IDX reader and the Fashion-MNIST loader: well-formed files, every kind
// of malformed one (refused with an error naming the file, nothing read past
// the data), and the real data set that scripts/install-deps.sh installs.
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include <gmock/gmock.h>

#include "normkit/io/fashion_mnist.hpp"
#include "normkit/io/idx.hpp"
#include "test_util.hpp"

namespace normkit::test {
namespace {

namespace fs = std::filesystem;
using io::IdxArray;

std::vector<std::uint8_t> idx_bytes(const std::vector<std::uint32_t>& dims, std::size_t values,
                                    std::uint8_t type = 0x08) {
  std::vector<std::uint8_t> b{0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift : {24, 16, 8, 0}) b.push_back(static_cast<std::uint8_t>(d >> shift));
  for (std::size_t i = 0; i < values; ++i) b.push_back(static_cast<std::uint8_t>(i * 7));
  return b;
}

// A directory of its own under the system's temporary one, removed at the end.
struct TempDir {
  fs::path path;
  TempDir() : path(fs::temp_directory_path() / ("normkit-io-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" + std::to_string(std::rand()))) {
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

void write_gzip(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

void write_plain(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                               static_cast<std::streamsize>(bytes.size()));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Idx, ParsesShapeAndValues) {
  const std::vector<std::uint8_t> b = idx_bytes({2, 3}, 6);
  const IdxArray a = io::parse_idx(b, "mem");
  EXPECT_EQ(a.shape, (Shape{2, 3}));
  ASSERT_EQ(a.values.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(a.values[i], static_cast<std::uint8_t>(i * 7));
}

TEST(Idx, RefusesMalformedHeadersWithAnErrorThatSaysWhat) {
  const auto parse = [](const std::vector<std::uint8_t>& b) { return error_of([&] { io::parse_idx(b, "f.idx"); }); };
  EXPECT_THAT(parse({0, 0}), ::testing::HasSubstr("at least a 4-byte header"));
  EXPECT_THAT(parse({1, 0, 8, 1, 0, 0, 0, 0}), ::testing::HasSubstr("magic"));
  EXPECT_THAT(parse(idx_bytes({2}, 2, 0x0D)), ::testing::HasSubstr("value type 13 is not supported"));
  EXPECT_THAT(parse({0, 0, 8, 0}), ::testing::HasSubstr("1 to 8 dimensions"));
  EXPECT_THAT(parse({0, 0, 8, 2, 0, 0, 0, 1}), ::testing::HasSubstr("truncated header"));
  // A header that claims far more than the file holds is refused before
  // anything is allocated (4 G values).
  EXPECT_THAT(parse(idx_bytes({65536, 65536}, 10)), ::testing::HasSubstr("claims 4.29497e+09 values"));
  EXPECT_THAT(parse(idx_bytes({4, 3}, 11)), ::testing::HasSubstr("claims 12 values"));
  EXPECT_THAT(parse(idx_bytes({4, 3}, 13)), ::testing::HasSubstr("the file holds 13"));
  for (const std::string& e : {parse({0, 0}), parse(idx_bytes({4, 3}, 11))}) EXPECT_THAT(e, ::testing::HasSubstr("f.idx"));
}

TEST(Idx, ReadsGzipAndPlainFilesAlike) {
  TempDir dir;
  const std::vector<std::uint8_t> b = idx_bytes({3, 5, 2}, 30);
  write_gzip(dir.path / "a.gz", b);
  write_plain(dir.path / "a.idx", b);
  const IdxArray z = io::read_idx((dir.path / "a.gz").string());
  const IdxArray p = io::read_idx((dir.path / "a.idx").string());
  EXPECT_EQ(z.shape, (Shape{3, 5, 2}));
  EXPECT_EQ(z.shape, p.shape);
  EXPECT_EQ(z.values, p.values);
}

TEST(Idx, RefusesMissingTruncatedAndCorruptFiles) {
  TempDir dir;
  EXPECT_THAT(error_of([&] { io::read_idx((dir.path / "none.gz").string()); }), ::testing::HasSubstr("no such file"));
  // A gzip stream cut in half: zlib reports the unexpected end.
  const std::vector<std::uint8_t> b = idx_bytes({100, 100}, 10000);
  write_gzip(dir.path / "full.gz", b);
  std::ifstream in(dir.path / "full.gz", std::ios::binary);
  std::vector<char> gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_plain(dir.path / "cut.gz", std::vector<std::uint8_t>(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(gz.size() / 2)));
  EXPECT_THAT(error_of([&] { io::read_idx((dir.path / "cut.gz").string()); }), ::testing::HasSubstr("cut.gz"));
  // Corrupt compressed data after a valid gzip header.
  std::vector<std::uint8_t> bad(gz.begin(), gz.end());
  for (std::size_t i = 20; i < bad.size() - 8; i += 7) bad[i] ^= 0x5A;
  write_plain(dir.path / "bad.gz", bad);
  EXPECT_THAT(error_of([&] { io::read_idx((dir.path / "bad.gz").string()); }), ::testing::HasSubstr("bad.gz"));
  // A plain file whose header claims more than it holds.
  write_plain(dir.path / "short.idx", idx_bytes({10, 10}, 50));
  EXPECT_THAT(error_of([&] { io::read_idx((dir.path / "short.idx").string()); }),
              ::testing::HasSubstr("claims 100 values"));
}

TEST(FashionMnist, MissingDataSaysHowToInstallIt) {
  TempDir dir;
  const std::string e = error_of([&] { io::load_fashion_mnist(dir.path.string()); });
  EXPECT_THAT(e, ::testing::HasSubstr("apt-get install dataset-fashion-mnist"));
  EXPECT_THAT(e, ::testing::HasSubstr("--data DIR"));
}

TEST(FashionMnist, RefusesFilesThatDoNotMatch) {
  TempDir dir;
  // 3 images but 2 labels; then images of the wrong size; then a label of 10.
  write_gzip(dir.path / "train-images-idx3-ubyte.gz", idx_bytes({3, 28, 28}, 3 * 784));
  write_gzip(dir.path / "train-labels-idx1-ubyte.gz", idx_bytes({2}, 2));
  write_gzip(dir.path / "t10k-images-idx3-ubyte.gz", idx_bytes({1, 28, 28}, 784));
  write_gzip(dir.path / "t10k-labels-idx1-ubyte.gz", idx_bytes({1}, 1));
  EXPECT_THAT(error_of([&] { io::load_fashion_mnist(dir.path.string()); }), ::testing::HasSubstr("2 labels for the 3 images"));
  write_gzip(dir.path / "train-images-idx3-ubyte.gz", idx_bytes({2, 27, 28}, 2 * 27 * 28));
  EXPECT_THAT(error_of([&] { io::load_fashion_mnist(dir.path.string()); }), ::testing::HasSubstr("(N, 28, 28)"));
  write_gzip(dir.path / "train-images-idx3-ubyte.gz", idx_bytes({2, 28, 28}, 2 * 784));
  write_gzip(dir.path / "train-labels-idx1-ubyte.gz", std::vector<std::uint8_t>{0, 0, 8, 1, 0, 0, 0, 2, 3, 10});
  EXPECT_THAT(error_of([&] { io::load_fashion_mnist(dir.path.string()); }), ::testing::HasSubstr("label 10 of image 1"));
}

// The real data set (scripts/install-deps.sh installs Debian's copy).
TEST(FashionMnist, LoadsTheDataSet) {
  const io::FashionMnist data = io::load_fashion_mnist();
  EXPECT_EQ(data.train.images.shape(), (Shape{60000, 1, 28, 28}));
  EXPECT_EQ(data.train.labels.shape(), (Shape{60000}));
  EXPECT_EQ(data.test.images.shape(), (Shape{10000, 1, 28, 28}));
  EXPECT_EQ(data.test.labels.dtype(), DType::int64);
  // Fashion-MNIST is balanced: 6000 training and 1000 test images per class.
  for (const auto& [split, per_class] : {std::pair{&data.train, 6000}, std::pair{&data.test, 1000}}) {
    std::vector<int> counts(10, 0);
    for (std::int64_t i = 0; i < split->labels.numel(); ++i) ++counts[split->labels.data<std::int64_t>()[i]];
    for (int c = 0; c < 10; ++c) EXPECT_EQ(counts[c], per_class) << "class " << c;
  }
  const float* px = data.train.images.data<float>();
  float lo = 1, hi = 0;
  double sum = 0;
  for (std::int64_t i = 0; i < data.train.images.numel(); ++i) lo = std::min(lo, px[i]), hi = std::max(hi, px[i]), sum += px[i];
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 1.0f);
  // The training set's mean pixel is 0.286 (the figure torchvision users normalise with).
  EXPECT_NEAR(sum / static_cast<double>(data.train.images.numel()), 0.2860, 5e-4);
}

}  // namespace
}  // namespace normkit::test
