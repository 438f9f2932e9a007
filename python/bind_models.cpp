// normkit.models: the lab's networks (train/models.hpp) as modules with
// forward, backward and state dicts keyed as PyTorch would key the same
// torch.nn.Sequential.
#include "normkit/train/models.hpp"
#include "numpy_views.hpp"

namespace normkit::python {

void bind_models(py::module_& m) {
  py::class_<nn::Sequential, nn::Module> sequential(m, "Sequential", "Layers applied in order (keys '0.', '1.', ...).");
  bind_forward_backward<nn::Sequential>(sequential);
  sequential.def("__len__", &nn::Sequential::size, "The number of layers.");
  m.def("make_model", [](const std::string& model, const std::string& norm, std::uint64_t seed,
                         std::int64_t depth, std::int64_t width, const std::string& form) {
        nn::Generator gen(seed);
        train::ModelOptions options{.depth = depth, .width = width};
        NORMKIT_CHECK(form == "post" || form == "pre", "form: expected 'post' or 'pre', got '", form, "'");
        options.form = form == "pre" ? nn::ResidualForm::pre_activation : nn::ResidualForm::post_activation;
        return train::make_model(model, norm, gen, options);
      }, py::arg("model"), py::arg("norm"), py::arg("seed") = 0, py::arg("depth") = 20, py::arg("width") = 1,
      py::arg("form") = "post",
      "The lab's networks, initialized from `seed`: 'mlp' (784-100-100-100-10, sigmoid), 'cnn' (two\n"
      "conv blocks of 16 and 32 channels times `width`), 'resnet' (He et al.'s CIFAR ResNet of `depth`\n"
      "= 6n + 2 layers, 'post' or 'pre' activation blocks), with the norm named by `norm` (none, bn,\n"
      "gn, ln, in, rms, ghost, renorm). Input: (N, 1, 28, 28) float32.");
}

}  // namespace normkit::python
