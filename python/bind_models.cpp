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
                         std::optional<std::int64_t> depth, std::int64_t width, std::optional<std::string> form,
                         std::int64_t dim, std::int64_t heads, std::int64_t patch, std::int64_t mlp_ratio,
                         bool qk_norm, double dropout) {
        nn::Generator gen(seed);
        const bool vit = model == "vit";
        const std::string placement = form.value_or(vit ? "pre" : "post");
        NORMKIT_CHECK(placement == "post" || placement == "pre", "form: expected 'post' or 'pre', got '", placement,
                      "'");
        train::ModelOptions options{.depth = depth.value_or(model == "vgg" ? 8 : 20), .width = width, .dropout = dropout};
        options.form = placement == "pre" ? nn::ResidualForm::pre_activation : nn::ResidualForm::post_activation;
        options.vit = {.depth = depth.value_or(6), .dim = dim, .heads = heads, .patch = patch, .mlp_ratio = mlp_ratio,
                       .placement = placement == "pre" ? nn::NormPlacement::pre : nn::NormPlacement::post,
                       .qk_norm = qk_norm};
        return train::make_model(model, norm, gen, options);
      }, py::arg("model"), py::arg("norm"), py::arg("seed") = 0, py::arg("depth") = py::none(), py::arg("width") = 1,
      py::arg("form") = py::none(), py::arg("dim") = 64, py::arg("heads") = 4, py::arg("patch") = 4,
      py::arg("mlp_ratio") = 2, py::arg("qk_norm") = false, py::arg("dropout") = 0.0,
      "The lab's networks, initialized from `seed`: 'mlp' (784-100-100-100-10, sigmoid), 'cnn' (two\n"
      "conv blocks of 16 and 32 channels times `width`), 'vgg' (`depth` (default 8) plain 3x3 convolutions\n"
      "in stages of 32, 64 and 128 channels times `width`), 'resnet' (He et al.'s CIFAR ResNet of `depth`\n"
      "(default 20) = 6n + 2 layers, `form` 'post' (default) or 'pre' activation blocks), 'vit' (a Vision\n"
      "Transformer of `depth` (default 6) blocks of `dim` features, `heads` heads, `patch` x `patch`\n"
      "patches, an MLP of mlp_ratio * dim, `form` 'pre' (default) or 'post' norm, optional QK-norm),\n"
      "with the norm named by `norm` (none, bn, gn, ln, in, rms, ghost, renorm, dyt; the vit takes\n"
      "none, bn, ln, rms, dyt). `dropout`: Dropout's probability (0: none; the vit: in each block's four\n"
      "places, as torch.nn.TransformerEncoderLayer). Input: (N, 1, 28, 28) float32.");
}

}  // namespace normkit::python
