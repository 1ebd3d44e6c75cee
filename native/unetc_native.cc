// unetc native kernels: oneDNN convolutions and matmuls over caller-owned float32 memory.
//
// The JS side (src/runtime/engine/native.ts) passes Float32Array views of the tfjs wasm heap
// (inputs and an output it allocated first) and the geometry as plain integers; nothing is copied
// in or out. Every entry point validates its arguments (counts, sizes, view lengths) and turns
// oneDNN errors into JS exceptions (a dnnl::error carries the status; "unimplemented" means
// oneDNN has no kernel for that shape and the caller falls back).
//
// Primitives are cached by their full geometry: the primitive descriptor, the primitive, the
// reorders between tfjs's layouts (HWIO weights) and the layout oneDNN chose, and the buffer that
// holds the reordered weights. oneDNN picks its own weight layout (format_tag::any); with HWIO as
// it is it falls back to im2col + gemm at a third of the speed, so the ~100 KB of weights are
// reordered inside each call.
//
// oneDNN 2.x and 3.x differ in how primitive descriptors are built (2.x: an op descriptor, then a
// primitive_desc; 3.x: the primitive_desc constructors take the engine first) and in
// append_eltwise's arguments; both are branched on DNNL_VERSION_MAJOR below. Only 2.6.3 (Debian
// 12) was tested.
#include <napi.h>
#include <dnnl.hpp>
#include <dnnl_version.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
// From the OpenMP runtime Debian's oneDNN is built against (libgomp).
void omp_set_num_threads(int);
int omp_get_max_threads(void);
}

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;
using dims = memory::dims;

namespace {

engine& eng() {
  static engine e(engine::kind::cpu, 0);
  return e;
}

stream& strm() {
  static stream s(eng());
  return s;
}

// --- argument helpers ----------------------------------------------------------------------

struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct View {
  float* data = nullptr;
  size_t length = 0;
};

View view(const Napi::Value& v, const char* what, size_t need) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw ArgError(std::string(what) + ": expected a Float32Array");
  }
  auto a = v.As<Napi::Float32Array>();
  View out{a.Data(), a.ElementLength()};
  if (out.length < need) {
    std::ostringstream m;
    m << what << ": view has " << out.length << " elements, the geometry needs " << need;
    throw ArgError(m.str());
  }
  return out;
}

std::vector<int64_t> ints(const Napi::Value& v, const char* what, size_t count) {
  if (!v.IsArray()) throw ArgError(std::string(what) + ": expected an array of integers");
  auto a = v.As<Napi::Array>();
  if (a.Length() != count) {
    std::ostringstream m;
    m << what << ": expected " << count << " integers, got " << a.Length();
    throw ArgError(m.str());
  }
  std::vector<int64_t> out(count);
  for (uint32_t i = 0; i < count; i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) throw ArgError(std::string(what) + ": expected an array of integers");
    double d = e.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d))) throw ArgError(std::string(what) + ": expected integers");
    out[i] = static_cast<int64_t>(d);
  }
  return out;
}

std::string keyOf(const char* kind, const std::vector<int64_t>& g) {
  std::string k(kind);
  for (auto v : g) {
    k += ',';
    k += std::to_string(v);
  }
  return k;
}

// --- version shims -------------------------------------------------------------------------

post_ops eltwiseOps(algorithm alg, float alpha, float beta = 0.f) {
  post_ops po;
#if DNNL_VERSION_MAJOR >= 3
  po.append_eltwise(alg, alpha, beta);
#else
  po.append_eltwise(1.f, alg, alpha, beta);
#endif
  return po;
}

// --- convolution ---------------------------------------------------------------------------

// Geometry, as the JS side computes it with tfjs's computeConv2DInfo:
//   n, h, w, ci, ho, wo, co, kh, kw, sh, sw, dh, dw, padTop, padLeft, padBottom, padRight,
//   groups, nchw
// dh/dw are tfjs dilations (1 = none). Weights are tfjs's [kh, kw, ci/groups, co] (HWIO; for
// groups > 1 the output channels are group-major: co = groups * co/groups).
constexpr size_t kConvGeo = 19;

struct ConvGeo {
  int64_t n, h, w, ci, ho, wo, co, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups, nchw;
  static ConvGeo from(const std::vector<int64_t>& g) {
    ConvGeo c{};
    int64_t* f = &c.n;
    for (size_t i = 0; i < kConvGeo; i++) f[i] = g[i];
    if (c.n <= 0 || c.h <= 0 || c.w <= 0 || c.ci <= 0 || c.ho <= 0 || c.wo <= 0 || c.co <= 0 || c.kh <= 0 || c.kw <= 0 ||
        c.sh <= 0 || c.sw <= 0 || c.dh <= 0 || c.dw <= 0 || c.groups <= 0) {
      throw ArgError("conv geometry: sizes, strides, dilations and groups must be positive");
    }
    if (c.ci % c.groups != 0 || c.co % c.groups != 0) throw ArgError("conv geometry: channels not divisible by groups");
    // oneDNN's own consistency rule: (h - ((kh - 1) dh + 1) + pt + pb) / sh + 1 = ho.
    if ((c.h - ((c.kh - 1) * c.dh + 1) + c.pt + c.pb) / c.sh + 1 != c.ho ||
        (c.w - ((c.kw - 1) * c.dw + 1) + c.pl + c.pr) / c.sw + 1 != c.wo) {
      throw ArgError("conv geometry: output size inconsistent with input, filter, stride, dilation and pads");
    }
    return c;
  }
  size_t srcSize() const { return size_t(n * h * w * ci); }
  size_t dstSize() const { return size_t(n * ho * wo * co); }
  size_t weiSize() const { return size_t(kh * kw * (ci / groups) * co); }
  memory::desc src() const { return memory::desc({n, ci, h, w}, dt::f32, nchw ? tag::nchw : tag::nhwc); }
  memory::desc dst() const { return memory::desc({n, co, ho, wo}, dt::f32, nchw ? tag::nchw : tag::nhwc); }
  // tfjs's weight layout as oneDNN dims.
  memory::desc weiUser() const {
    if (groups == 1) return memory::desc({co, ci, kh, kw}, dt::f32, tag::hwio);
    return memory::desc({groups, co / groups, ci / groups, kh, kw}, dt::f32, tag::hwigo);
  }
  memory::desc weiAny() const {
    if (groups == 1) return memory::desc({co, ci, kh, kw}, dt::f32, tag::any);
    return memory::desc({groups, co / groups, ci / groups, kh, kw}, dt::f32, tag::any);
  }
  memory::desc bias() const { return memory::desc({co}, dt::f32, tag::x); }
  dims strides() const { return {sh, sw}; }
  dims dilates() const { return {dh - 1, dw - 1}; }
  dims padL() const { return {pt, pl}; }
  dims padR() const { return {pb, pr}; }
};

convolution_forward::primitive_desc convFwdPd(const ConvGeo& g, prop_kind pk, bool withBias, const primitive_attr& attr) {
#if DNNL_VERSION_MAJOR >= 3
  if (withBias)
    return convolution_forward::primitive_desc(eng(), pk, algorithm::convolution_direct, g.src(), g.weiAny(), g.bias(), g.dst(),
                                               g.strides(), g.dilates(), g.padL(), g.padR(), attr);
  return convolution_forward::primitive_desc(eng(), pk, algorithm::convolution_direct, g.src(), g.weiAny(), g.dst(), g.strides(),
                                             g.dilates(), g.padL(), g.padR(), attr);
#else
  if (withBias)
    return convolution_forward::primitive_desc(
        convolution_forward::desc(pk, algorithm::convolution_direct, g.src(), g.weiAny(), g.bias(), g.dst(), g.strides(), g.dilates(),
                                  g.padL(), g.padR()),
        attr, eng());
  return convolution_forward::primitive_desc(
      convolution_forward::desc(pk, algorithm::convolution_direct, g.src(), g.weiAny(), g.dst(), g.strides(), g.dilates(), g.padL(),
                                g.padR()),
      attr, eng());
#endif
}

convolution_backward_data::primitive_desc convBwdDataPd(const ConvGeo& g, const convolution_forward::primitive_desc& hint) {
#if DNNL_VERSION_MAJOR >= 3
  return convolution_backward_data::primitive_desc(eng(), algorithm::convolution_direct, g.src(), g.weiAny(), g.dst(), g.strides(),
                                                   g.dilates(), g.padL(), g.padR(), hint);
#else
  return convolution_backward_data::primitive_desc(
      convolution_backward_data::desc(algorithm::convolution_direct, g.src(), g.weiAny(), g.dst(), g.strides(), g.dilates(), g.padL(),
                                      g.padR()),
      eng(), hint);
#endif
}

convolution_backward_weights::primitive_desc convBwdWeightsPd(const ConvGeo& g, const convolution_forward::primitive_desc& hint) {
#if DNNL_VERSION_MAJOR >= 3
  return convolution_backward_weights::primitive_desc(eng(), algorithm::convolution_direct, g.src(), g.weiAny(), g.dst(), g.strides(),
                                                      g.dilates(), g.padL(), g.padR(), hint);
#else
  return convolution_backward_weights::primitive_desc(
      convolution_backward_weights::desc(algorithm::convolution_direct, g.src(), g.weiAny(), g.dst(), g.strides(), g.dilates(),
                                         g.padL(), g.padR()),
      eng(), hint);
#endif
}

// A cached convolution: the primitive, and the weights in oneDNN's layout when it differs from
// tfjs's (then `reorder` converts user -> internal for fwd/bwd-data, internal -> user for
// bwd-weights, and `internal` holds them between the two steps of a call).
struct ConvEntry {
  primitive prim;
  std::string impl;
  bool reorderWeights = false;
  reorder weightReorder;
  memory internal;  // oneDNN-layout weights (or diff weights); empty when no reorder
};

// Post-op codes for the forward conv (fused activation of tfjs's FusedConv2D).
enum Act : int64_t { kLinear = 0, kRelu = 1, kRelu6 = 2, kElu = 3, kLeakyRelu = 4, kSigmoid = 5 };

std::mutex cacheMutex;
std::map<std::string, std::unique_ptr<ConvEntry>> convCache;

primitive_attr actAttr(int64_t act, float alpha) {
  primitive_attr attr;
  switch (act) {
    case kLinear:
      break;
    case kRelu:
      attr.set_post_ops(eltwiseOps(algorithm::eltwise_relu, 0.f));
      break;
    case kRelu6:
      attr.set_post_ops(eltwiseOps(algorithm::eltwise_clip, 0.f, 6.f));
      break;
    case kElu:
      attr.set_post_ops(eltwiseOps(algorithm::eltwise_elu, 1.f));
      break;
    case kLeakyRelu:
      attr.set_post_ops(eltwiseOps(algorithm::eltwise_relu, alpha));
      break;
    case kSigmoid:
      attr.set_post_ops(eltwiseOps(algorithm::eltwise_logistic, 0.f));
      break;
    default:
      throw ArgError("conv2d: unknown activation code");
  }
  return attr;
}

ConvEntry& convEntry(const std::string& key, const std::function<std::unique_ptr<ConvEntry>()>& make) {
  auto it = convCache.find(key);
  if (it != convCache.end()) return *it->second;
  auto e = make();
  auto& ref = *e;
  convCache.emplace(key, std::move(e));
  return ref;
}

// Builds the weight reorder between the user layout and `internalDesc` (to internal when
// `toInternal`, else back to user).
void setWeightReorder(ConvEntry& e, const memory::desc& user, const memory::desc& internalDesc, bool toInternal) {
  if (internalDesc == user) return;
  e.reorderWeights = true;
  e.internal = memory(internalDesc, eng());
  memory userMem(user, eng(), nullptr);
  e.weightReorder = toInternal ? reorder(userMem, e.internal) : reorder(e.internal, userMem);
}

// conv2d(x, w, bias | null, y, geo[19], act, alpha) -> impl string
Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  auto geo = ints(info[4], "conv2d geometry", kConvGeo);
  ConvGeo g = ConvGeo::from(geo);
  int64_t act = info.Length() > 5 ? info[5].As<Napi::Number>().Int64Value() : 0;
  float alpha = info.Length() > 6 ? info[6].As<Napi::Number>().FloatValue() : 0.f;
  View x = view(info[0], "conv2d x", g.srcSize());
  View w = view(info[1], "conv2d filter", g.weiSize());
  bool withBias = !info[2].IsNull() && !info[2].IsUndefined();
  View b = withBias ? view(info[2], "conv2d bias", size_t(g.co)) : View{};
  View y = view(info[3], "conv2d y", g.dstSize());
  std::lock_guard<std::mutex> lock(cacheMutex);
  geo.push_back(withBias);
  geo.push_back(act);
  std::string key = keyOf("fwd", geo) + "," + std::to_string(alpha);
  ConvEntry& e = convEntry(key, [&] {
    auto pd = convFwdPd(g, prop_kind::forward_training, withBias, actAttr(act, alpha));
    auto out = std::make_unique<ConvEntry>();
    out->prim = convolution_forward(pd);
    out->impl = pd.impl_info_str();
    setWeightReorder(*out, g.weiUser(), pd.weights_desc(), true);
    return out;
  });
  memory wUser(g.weiUser(), eng(), w.data);
  memory wMem = wUser;
  if (e.reorderWeights) {
    e.weightReorder.execute(strm(), wUser, e.internal);
    wMem = e.internal;
  }
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(g.src(), eng(), x.data)},
                                       {DNNL_ARG_WEIGHTS, wMem},
                                       {DNNL_ARG_DST, memory(g.dst(), eng(), y.data)}};
  if (withBias) args.emplace(DNNL_ARG_BIAS, memory(g.bias(), eng(), b.data));
  e.prim.execute(strm(), args);
  strm().wait();
  return Napi::String::New(info.Env(), e.impl);
}

// conv2dBackpropInput(dy, w, dx, geo[19]) -> impl string
Napi::Value Conv2dBackpropInput(const Napi::CallbackInfo& info) {
  auto geo = ints(info[3], "conv2dBackpropInput geometry", kConvGeo);
  ConvGeo g = ConvGeo::from(geo);
  View dy = view(info[0], "conv2dBackpropInput dy", g.dstSize());
  View w = view(info[1], "conv2dBackpropInput filter", g.weiSize());
  View dx = view(info[2], "conv2dBackpropInput dx", g.srcSize());
  std::lock_guard<std::mutex> lock(cacheMutex);
  ConvEntry& e = convEntry(keyOf("bwd_data", geo), [&] {
    auto hint = convFwdPd(g, prop_kind::forward_training, false, primitive_attr());
    auto pd = convBwdDataPd(g, hint);
    auto out = std::make_unique<ConvEntry>();
    out->prim = convolution_backward_data(pd);
    out->impl = pd.impl_info_str();
    setWeightReorder(*out, g.weiUser(), pd.weights_desc(), true);
    return out;
  });
  memory wUser(g.weiUser(), eng(), w.data);
  memory wMem = wUser;
  if (e.reorderWeights) {
    e.weightReorder.execute(strm(), wUser, e.internal);
    wMem = e.internal;
  }
  e.prim.execute(strm(), {{DNNL_ARG_DIFF_DST, memory(g.dst(), eng(), dy.data)},
                          {DNNL_ARG_WEIGHTS, wMem},
                          {DNNL_ARG_DIFF_SRC, memory(g.src(), eng(), dx.data)}});
  strm().wait();
  return Napi::String::New(info.Env(), e.impl);
}

// conv2dBackpropFilter(x, dy, dw, geo[19]) -> impl string
Napi::Value Conv2dBackpropFilter(const Napi::CallbackInfo& info) {
  auto geo = ints(info[3], "conv2dBackpropFilter geometry", kConvGeo);
  ConvGeo g = ConvGeo::from(geo);
  View x = view(info[0], "conv2dBackpropFilter x", g.srcSize());
  View dy = view(info[1], "conv2dBackpropFilter dy", g.dstSize());
  View dw = view(info[2], "conv2dBackpropFilter dw", g.weiSize());
  std::lock_guard<std::mutex> lock(cacheMutex);
  ConvEntry& e = convEntry(keyOf("bwd_weights", geo), [&] {
    auto hint = convFwdPd(g, prop_kind::forward_training, false, primitive_attr());
    auto pd = convBwdWeightsPd(g, hint);
    auto out = std::make_unique<ConvEntry>();
    out->prim = convolution_backward_weights(pd);
    out->impl = pd.impl_info_str();
    setWeightReorder(*out, g.weiUser(), pd.diff_weights_desc(), false);
    return out;
  });
  memory dwUser(g.weiUser(), eng(), dw.data);
  memory dwMem = e.reorderWeights ? e.internal : dwUser;
  e.prim.execute(strm(), {{DNNL_ARG_SRC, memory(g.src(), eng(), x.data)},
                          {DNNL_ARG_DIFF_DST, memory(g.dst(), eng(), dy.data)},
                          {DNNL_ARG_DIFF_WEIGHTS, dwMem}});
  if (e.reorderWeights) e.weightReorder.execute(strm(), e.internal, dwUser);
  strm().wait();
  return Napi::String::New(info.Env(), e.impl);
}

// --- per-sample weights --------------------------------------------------------------------

// The convolution of each sample with its own weights (LoRA's W_n = W + A diag(omega_n) B):
// y[i] = conv(x[i], w[i]), w [N, kh, kw, ci, co]. One cached batch-1 primitive run N times on
// offsets (a batch-1 oneDNN conv still parallelises over pixels and channel blocks).
// Geometry as for conv2d with n = N (groups must be 1).
// convPerSample(kind, a, b, out, geo[19]); kind 0: y = fwd(x, w); 1: dx = bwd_data(dy, w);
// 2: dw[i] = bwd_weights(x[i], dy[i]).
Napi::Value ConvPerSample(const Napi::CallbackInfo& info) {
  int64_t kind = info[0].As<Napi::Number>().Int64Value();
  auto geo = ints(info[4], "convPerSample geometry", kConvGeo);
  ConvGeo g = ConvGeo::from(geo);
  if (g.groups != 1) throw ArgError("convPerSample: groups must be 1");
  if (kind < 0 || kind > 2) throw ArgError("convPerSample: kind must be 0, 1 or 2");
  const int64_t n = g.n;
  ConvGeo g1 = g;
  g1.n = 1;
  std::vector<int64_t> geo1 = geo;
  geo1[0] = 1;
  const size_t src1 = g1.srcSize(), dst1 = g1.dstSize(), wei1 = g1.weiSize();
  const size_t weiAll = wei1 * size_t(n);
  View a, b, out;
  if (kind == 0) {
    a = view(info[1], "convPerSample x", g.srcSize());
    b = view(info[2], "convPerSample weights", weiAll);
    out = view(info[3], "convPerSample y", g.dstSize());
  } else if (kind == 1) {
    a = view(info[1], "convPerSample dy", g.dstSize());
    b = view(info[2], "convPerSample weights", weiAll);
    out = view(info[3], "convPerSample dx", g.srcSize());
  } else {
    a = view(info[1], "convPerSample x", g.srcSize());
    b = view(info[2], "convPerSample dy", g.dstSize());
    out = view(info[3], "convPerSample dweights", weiAll);
  }
  std::lock_guard<std::mutex> lock(cacheMutex);
  static const char* names[] = {"ps_fwd", "ps_bwd_data", "ps_bwd_weights"};
  ConvEntry& e = convEntry(keyOf(names[kind], geo1), [&] {
    auto hint = convFwdPd(g1, prop_kind::forward_training, false, primitive_attr());
    auto res = std::make_unique<ConvEntry>();
    if (kind == 0) {
      res->prim = convolution_forward(hint);
      res->impl = hint.impl_info_str();
      setWeightReorder(*res, g1.weiUser(), hint.weights_desc(), true);
    } else if (kind == 1) {
      auto pd = convBwdDataPd(g1, hint);
      res->prim = convolution_backward_data(pd);
      res->impl = pd.impl_info_str();
      setWeightReorder(*res, g1.weiUser(), pd.weights_desc(), true);
    } else {
      auto pd = convBwdWeightsPd(g1, hint);
      res->prim = convolution_backward_weights(pd);
      res->impl = pd.impl_info_str();
      setWeightReorder(*res, g1.weiUser(), pd.diff_weights_desc(), false);
    }
    return res;
  });
  memory srcM(g1.src(), eng(), nullptr), dstM(g1.dst(), eng(), nullptr), weiM(g1.weiUser(), eng(), nullptr);
  for (int64_t i = 0; i < n; i++) {
    if (kind == 0) {
      srcM.set_data_handle(a.data + i * src1);
      weiM.set_data_handle(b.data + i * wei1);
      dstM.set_data_handle(out.data + i * dst1);
      memory wUse = weiM;
      if (e.reorderWeights) {
        e.weightReorder.execute(strm(), weiM, e.internal);
        wUse = e.internal;
      }
      e.prim.execute(strm(), {{DNNL_ARG_SRC, srcM}, {DNNL_ARG_WEIGHTS, wUse}, {DNNL_ARG_DST, dstM}});
    } else if (kind == 1) {
      dstM.set_data_handle(a.data + i * dst1);
      weiM.set_data_handle(b.data + i * wei1);
      srcM.set_data_handle(out.data + i * src1);
      memory wUse = weiM;
      if (e.reorderWeights) {
        e.weightReorder.execute(strm(), weiM, e.internal);
        wUse = e.internal;
      }
      e.prim.execute(strm(), {{DNNL_ARG_DIFF_DST, dstM}, {DNNL_ARG_WEIGHTS, wUse}, {DNNL_ARG_DIFF_SRC, srcM}});
    } else {
      srcM.set_data_handle(a.data + i * src1);
      dstM.set_data_handle(b.data + i * dst1);
      weiM.set_data_handle(out.data + i * wei1);
      memory dwUse = e.reorderWeights ? e.internal : weiM;
      e.prim.execute(strm(), {{DNNL_ARG_SRC, srcM}, {DNNL_ARG_DIFF_DST, dstM}, {DNNL_ARG_DIFF_WEIGHTS, dwUse}});
      if (e.reorderWeights) e.weightReorder.execute(strm(), e.internal, weiM);
    }
  }
  strm().wait();
  return Napi::String::New(info.Env(), e.impl);
}

// --- im2col ---------------------------------------------------------------------------------

// patches(kind, x, cols, geo[n, h, w, c, k, pad, ho, wo]): kind 0 fills cols [n, ho, wo, k k c]
// with the k x k patches of x [n, h, w, c] (stride 1, `pad` zeros each side; tap order (i, j, c)
// as a [k, k, c, C_out] conv weight flattens); kind 1 is its adjoint: x = sum of the patch
// entries over the pixels they came from (x is overwritten). Parallel over samples and rows.
Napi::Value Patches(const Napi::CallbackInfo& info) {
  int64_t kind = info[0].As<Napi::Number>().Int64Value();
  auto g = ints(info[3], "patches geometry", 8);
  const int64_t n = g[0], h = g[1], w = g[2], c = g[3], k = g[4], pad = g[5], ho = g[6], wo = g[7];
  if (n <= 0 || h <= 0 || w <= 0 || c <= 0 || k <= 0 || pad < 0 || ho != h + 2 * pad - k + 1 || wo != w + 2 * pad - k + 1 || ho <= 0 || wo <= 0)
    throw ArgError("patches geometry: inconsistent");
  if (kind != 0 && kind != 1) throw ArgError("patches: kind must be 0 or 1");
  const size_t xs = size_t(n * h * w * c), cs = size_t(n * ho * wo * k * k * c);
  View x = view(info[1], "patches x", xs);
  View cols = view(info[2], "patches cols", cs);
  const int64_t kc = k * k * c;
  float* X = x.data;
  float* C = cols.data;
  if (kind == 0) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < n; b++) {
      for (int64_t oy = 0; oy < ho; oy++) {
        for (int64_t ox = 0; ox < wo; ox++) {
          float* row = C + ((b * ho + oy) * wo + ox) * kc;
          for (int64_t i = 0; i < k; i++) {
            const int64_t y = oy + i - pad;
            float* dst = row + i * k * c;
            if (y < 0 || y >= h) {
              std::memset(dst, 0, sizeof(float) * size_t(k * c));
              continue;
            }
            for (int64_t j = 0; j < k; j++) {
              const int64_t xx = ox + j - pad;
              if (xx < 0 || xx >= w) std::memset(dst + j * c, 0, sizeof(float) * size_t(c));
              else std::memcpy(dst + j * c, X + ((b * h + y) * w + xx) * c, sizeof(float) * size_t(c));
            }
          }
        }
      }
    }
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < n; b++) {
      float* xb = X + b * h * w * c;
      std::memset(xb, 0, sizeof(float) * size_t(h * w * c));
      for (int64_t oy = 0; oy < ho; oy++) {
        for (int64_t ox = 0; ox < wo; ox++) {
          const float* row = C + ((b * ho + oy) * wo + ox) * kc;
          for (int64_t i = 0; i < k; i++) {
            const int64_t y = oy + i - pad;
            if (y < 0 || y >= h) continue;
            for (int64_t j = 0; j < k; j++) {
              const int64_t xx = ox + j - pad;
              if (xx < 0 || xx >= w) continue;
              float* dst = xb + (y * w + xx) * c;
              const float* src = row + (i * k + j) * c;
              for (int64_t t = 0; t < c; t++) dst[t] += src[t];
            }
          }
        }
      }
    }
  }
  return info.Env().Undefined();
}

// --- GroupNorm -------------------------------------------------------------------------------

// GroupNorm over NHWC data [n, pixels, c] with groups of c / groups channels, as
// src/runtime/engine/groupNormKernels.ts computes it (statistics in double per sample and group,
// the variance in a second pass over x - mean). Parallel over samples.
// groupNorm(x, gamma, beta, y, mean, rstd, geo[n, pixels, c, groups], eps)
Napi::Value GroupNorm(const Napi::CallbackInfo& info) {
  auto g = ints(info[6], "groupNorm geometry", 4);
  const int64_t n = g[0], pixels = g[1], c = g[2], groups = g[3];
  if (n <= 0 || pixels <= 0 || c <= 0 || groups <= 0 || c % groups != 0) throw ArgError("groupNorm geometry: inconsistent");
  const double eps = info[7].As<Napi::Number>().DoubleValue();
  const size_t total = size_t(n * pixels * c);
  View x = view(info[0], "groupNorm x", total), gamma = view(info[1], "groupNorm gamma", size_t(c)),
       beta = view(info[2], "groupNorm beta", size_t(c)), y = view(info[3], "groupNorm y", total),
       mean = view(info[4], "groupNorm mean", size_t(n * groups)), rstd = view(info[5], "groupNorm rstd", size_t(n * groups));
  const int64_t cg = c / groups;
  const double count = double(pixels * cg);
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < n; b++) {
    const float* xb = x.data + b * pixels * c;
    float* yb = y.data + b * pixels * c;
    std::vector<double> acc(static_cast<size_t>(c), 0.0), mu(static_cast<size_t>(groups), 0.0), var(static_cast<size_t>(groups), 0.0);
    for (int64_t i = 0; i < pixels; i++)
      for (int64_t ch = 0; ch < c; ch++) acc[size_t(ch)] += xb[i * c + ch];
    for (int64_t ch = 0; ch < c; ch++) mu[size_t(ch / cg)] += acc[size_t(ch)];
    for (int64_t k = 0; k < groups; k++) mu[size_t(k)] /= count;
    std::vector<double> muc(static_cast<size_t>(c));
    for (int64_t ch = 0; ch < c; ch++) muc[size_t(ch)] = mu[size_t(ch / cg)], acc[size_t(ch)] = 0.0;
    for (int64_t i = 0; i < pixels; i++)
      for (int64_t ch = 0; ch < c; ch++) {
        const double d = double(xb[i * c + ch]) - muc[size_t(ch)];
        acc[size_t(ch)] += d * d;
      }
    for (int64_t ch = 0; ch < c; ch++) var[size_t(ch / cg)] += acc[size_t(ch)];
    std::vector<float> scale(static_cast<size_t>(c)), shift(static_cast<size_t>(c));
    for (int64_t k = 0; k < groups; k++) {
      mean.data[b * groups + k] = float(mu[size_t(k)]);
      rstd.data[b * groups + k] = float(1.0 / std::sqrt(var[size_t(k)] / count + eps));
    }
    for (int64_t ch = 0; ch < c; ch++) {
      const int64_t k = ch / cg;
      scale[size_t(ch)] = float(double(rstd.data[b * groups + k]) * gamma.data[ch]);
      shift[size_t(ch)] = float(beta.data[ch] - mu[size_t(k)] * scale[size_t(ch)]);
    }
    for (int64_t i = 0; i < pixels; i++)
      for (int64_t ch = 0; ch < c; ch++) yb[i * c + ch] = xb[i * c + ch] * scale[size_t(ch)] + shift[size_t(ch)];
  }
  return info.Env().Undefined();
}

// groupNormGrad(dy, x, mean, rstd, gamma, dx, dgamma, dbeta, geo[n, pixels, c, groups]):
// with xhat = (x - mean) rstd and gd = dy gamma: dbeta = sum dy, dgamma = sum dy xhat,
// dx = rstd (gd - mean_group(gd) - xhat mean_group(gd xhat)).
Napi::Value GroupNormGrad(const Napi::CallbackInfo& info) {
  auto g = ints(info[8], "groupNormGrad geometry", 4);
  const int64_t n = g[0], pixels = g[1], c = g[2], groups = g[3];
  if (n <= 0 || pixels <= 0 || c <= 0 || groups <= 0 || c % groups != 0) throw ArgError("groupNormGrad geometry: inconsistent");
  const size_t total = size_t(n * pixels * c);
  View dy = view(info[0], "groupNormGrad dy", total), x = view(info[1], "groupNormGrad x", total),
       mean = view(info[2], "groupNormGrad mean", size_t(n * groups)), rstd = view(info[3], "groupNormGrad rstd", size_t(n * groups)),
       gamma = view(info[4], "groupNormGrad gamma", size_t(c)), dx = view(info[5], "groupNormGrad dx", total),
       dgamma = view(info[6], "groupNormGrad dgamma", size_t(c)), dbeta = view(info[7], "groupNormGrad dbeta", size_t(c));
  const int64_t cg = c / groups;
  const double count = double(pixels * cg);
  std::vector<double> dgAll(static_cast<size_t>(n * c), 0.0), dbAll(static_cast<size_t>(n * c), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < n; b++) {
    const float* dyb = dy.data + b * pixels * c;
    const float* xb = x.data + b * pixels * c;
    float* dxb = dx.data + b * pixels * c;
    std::vector<float> mu(static_cast<size_t>(c)), rs(static_cast<size_t>(c));
    for (int64_t ch = 0; ch < c; ch++) mu[size_t(ch)] = mean.data[b * groups + ch / cg], rs[size_t(ch)] = rstd.data[b * groups + ch / cg];
    double* dgb = dgAll.data() + b * c;
    double* dbb = dbAll.data() + b * c;
    std::vector<double> s1(static_cast<size_t>(c), 0.0), s2(static_cast<size_t>(c), 0.0);
    for (int64_t i = 0; i < pixels; i++)
      for (int64_t ch = 0; ch < c; ch++) {
        const float d = dyb[i * c + ch];
        const float xh = (xb[i * c + ch] - mu[size_t(ch)]) * rs[size_t(ch)];
        dbb[ch] += d;
        dgb[ch] += double(d) * xh;
      }
    std::vector<double> m1(static_cast<size_t>(groups), 0.0), m2(static_cast<size_t>(groups), 0.0);
    for (int64_t ch = 0; ch < c; ch++) {
      m1[size_t(ch / cg)] += dbb[ch] * gamma.data[ch];
      m2[size_t(ch / cg)] += dgb[ch] * gamma.data[ch];
    }
    std::vector<float> a(static_cast<size_t>(c)), bb(static_cast<size_t>(c));
    for (int64_t ch = 0; ch < c; ch++) {
      a[size_t(ch)] = float(m1[size_t(ch / cg)] / count);
      bb[size_t(ch)] = float(m2[size_t(ch / cg)] / count);
    }
    for (int64_t i = 0; i < pixels; i++)
      for (int64_t ch = 0; ch < c; ch++) {
        const float xh = (xb[i * c + ch] - mu[size_t(ch)]) * rs[size_t(ch)];
        dxb[i * c + ch] = rs[size_t(ch)] * (dyb[i * c + ch] * gamma.data[ch] - a[size_t(ch)] - xh * bb[size_t(ch)]);
      }
  }
  for (int64_t ch = 0; ch < c; ch++) {
    double sg = 0, sb = 0;
    for (int64_t b = 0; b < n; b++) sg += dgAll[size_t(b * c + ch)], sb += dbAll[size_t(b * c + ch)];
    dgamma.data[ch] = float(sg);
    dbeta.data[ch] = float(sb);
  }
  return info.Env().Undefined();
}

// --- reductions ------------------------------------------------------------------------------

// reduceSum(x, out, outer, inner, leading): x is [outer, inner] row-major; leading = 1 sums the
// rows (out[j] = sum_i x[i, j], out has `inner` elements: tfjs's Sum over leading axes, e.g. a
// bias gradient), leading = 0 sums each row (out[i] = sum_j x[i, j]). Partial sums in float over
// blocks of rows, added up in double. Parallel over row blocks (leading) or rows.
Napi::Value ReduceSum(const Napi::CallbackInfo& info) {
  auto g = ints(info[2], "reduceSum geometry", 3);
  const int64_t outer = g[0], inner = g[1];
  const bool leading = g[2] != 0;
  if (outer <= 0 || inner <= 0) throw ArgError("reduceSum geometry: sizes must be positive");
  View x = view(info[0], "reduceSum x", size_t(outer * inner));
  View out = view(info[1], "reduceSum out", size_t(leading ? inner : outer));
  const float* X = x.data;
  if (!leading) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < outer; i++) {
      double acc = 0;
      const float* row = X + i * inner;
      for (int64_t j0 = 0; j0 < inner; j0 += 4096) {
        float part = 0;
        const int64_t j1 = std::min(inner, j0 + 4096);
        for (int64_t j = j0; j < j1; j++) part += row[j];
        acc += part;
      }
      out.data[i] = float(acc);
    }
    return info.Env().Undefined();
  }
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (outer + kBlock - 1) / kBlock;
  std::vector<double> total(static_cast<size_t>(inner), 0.0);
#pragma omp parallel
  {
    std::vector<float> part(static_cast<size_t>(inner));
    std::vector<double> mine(static_cast<size_t>(inner), 0.0);
#pragma omp for schedule(static)
    for (int64_t bl = 0; bl < blocks; bl++) {
      std::fill(part.begin(), part.end(), 0.f);
      const int64_t i1 = std::min(outer, (bl + 1) * kBlock);
      for (int64_t i = bl * kBlock; i < i1; i++) {
        const float* row = X + i * inner;
        float* p = part.data();
        for (int64_t j = 0; j < inner; j++) p[j] += row[j];
      }
      for (int64_t j = 0; j < inner; j++) mine[size_t(j)] += part[size_t(j)];
    }
#pragma omp critical
    for (int64_t j = 0; j < inner; j++) total[size_t(j)] += mine[size_t(j)];
  }
  for (int64_t j = 0; j < inner; j++) out.data[j] = float(total[size_t(j)]);
  return info.Env().Undefined();
}

// --- matmul --------------------------------------------------------------------------------

// matmul(a, b, c, geo): c[..., m, n] = op(a)[..., m, k] x op(b)[..., k, n] over broadcast batch
// axes. geo = [rank, transposeA, transposeB, m, k, n, aBatch..., bBatch...] with both batch
// shapes right-aligned to rank - 2 axes (1 = broadcast); a is stored [..., m, k] (or [..., k, m]
// when transposed), b [..., k, n] (or [..., n, k]), c [..., m, n], all row-major.
struct MatmulEntry {
  matmul prim;
  std::string impl;
};
std::map<std::string, std::unique_ptr<MatmulEntry>> matmulCache;

memory::desc matDesc(const dims& batch, int64_t rows, int64_t cols, bool transposed) {
  // Logical [batch..., rows, cols]; stored as [batch..., cols, rows] when transposed.
  const size_t r = batch.size() + 2;
  dims d(batch);
  d.push_back(rows);
  d.push_back(cols);
  dims st(r);
  if (transposed) {
    st[r - 1] = rows;
    st[r - 2] = 1;
  } else {
    st[r - 1] = 1;
    st[r - 2] = cols;
  }
  // Batch strides of a dense row-major tensor (a broadcast axis has size 1: its stride is moot).
  int64_t s = rows * cols;
  for (size_t i = batch.size(); i-- > 0;) {
    st[i] = s;
    s *= batch[i];
  }
  return memory::desc(d, dt::f32, st);
}

Napi::Value Matmul(const Napi::CallbackInfo& info) {
  if (!info[3].IsArray()) throw ArgError("matmul geometry: expected an array");
  const uint32_t len = info[3].As<Napi::Array>().Length();
  if (len < 1) throw ArgError("matmul geometry: empty");
  const int64_t rank = info[3].As<Napi::Array>().Get(0u).As<Napi::Number>().Int64Value();
  if (rank < 2 || rank > 12) throw ArgError("matmul geometry: rank must be 2..12");
  auto geo = ints(info[3], "matmul geometry", size_t(6 + 2 * (rank - 2)));
  const bool ta = geo[1] != 0, tb = geo[2] != 0;
  const int64_t m = geo[3], k = geo[4], n = geo[5];
  if (m <= 0 || k <= 0 || n <= 0) throw ArgError("matmul geometry: m, k, n must be positive");
  dims ab(geo.begin() + 6, geo.begin() + 6 + (rank - 2)), bb(geo.begin() + 6 + (rank - 2), geo.end());
  dims cb(rank - 2);
  size_t na = 1, nb = 1, nc = 1;
  for (int64_t i = 0; i < rank - 2; i++) {
    if (ab[i] <= 0 || bb[i] <= 0 || (ab[i] != bb[i] && ab[i] != 1 && bb[i] != 1)) throw ArgError("matmul geometry: batch shapes do not broadcast");
    cb[i] = std::max(ab[i], bb[i]);
    na *= ab[i];
    nb *= bb[i];
    nc *= cb[i];
  }
  View a = view(info[0], "matmul a", na * m * k);
  View b = view(info[1], "matmul b", nb * k * n);
  View c = view(info[2], "matmul c", nc * m * n);
  std::lock_guard<std::mutex> lock(cacheMutex);
  const std::string key = keyOf("mm", geo);
  auto it = matmulCache.find(key);
  memory::desc amd = matDesc(ab, m, k, ta), bmd = matDesc(bb, k, n, tb), cmd = matDesc(cb, m, n, false);
  if (it == matmulCache.end()) {
#if DNNL_VERSION_MAJOR >= 3
    auto pd = matmul::primitive_desc(eng(), amd, bmd, cmd);
#else
    auto pd = matmul::primitive_desc(matmul::desc(amd, bmd, cmd), eng());
#endif
    auto e = std::make_unique<MatmulEntry>();
    e->prim = matmul(pd);
    e->impl = pd.impl_info_str();
    it = matmulCache.emplace(key, std::move(e)).first;
  }
  it->second->prim.execute(strm(), {{DNNL_ARG_SRC, memory(amd, eng(), a.data)},
                                    {DNNL_ARG_WEIGHTS, memory(bmd, eng(), b.data)},
                                    {DNNL_ARG_DST, memory(cmd, eng(), c.data)}});
  strm().wait();
  return Napi::String::New(info.Env(), it->second->impl);
}

// --- module --------------------------------------------------------------------------------

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    return F(info);
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
  } catch (const dnnl::error& e) {
    Napi::Error err = Napi::Error::New(env, std::string("oneDNN: ") + e.what());
    err.Set("status", Napi::Number::New(env, static_cast<int>(e.status)));
    err.Set("unimplemented", Napi::Boolean::New(env, e.status == dnnl_unimplemented));
    err.ThrowAsJavaScriptException();
  } catch (const ArgError& e) {
    Napi::TypeError::New(env, std::string("unetc native: ") + e.what()).ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    Napi::Error::New(env, std::string("unetc native: ") + e.what()).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1 || n > 256) throw ArgError("setThreads: 1 to 256");
  omp_set_num_threads(n);
  return Napi::Number::New(info.Env(), omp_get_max_threads());
}

Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), omp_get_max_threads()); }

Napi::Value ClearCache(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(cacheMutex);
  size_t n = convCache.size() + matmulCache.size();
  convCache.clear();
  matmulCache.clear();
  return Napi::Number::New(info.Env(), double(n));
}

Napi::Value CacheSize(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(cacheMutex);
  return Napi::Number::New(info.Env(), double(convCache.size() + matmulCache.size()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  const dnnl_version_t* v = dnnl_version();
  std::ostringstream ver;
  ver << v->major << '.' << v->minor << '.' << v->patch;
  exports.Set("onednnVersion", Napi::String::New(env, ver.str()));
  exports.Set("builtAgainst", Napi::String::New(env, std::to_string(DNNL_VERSION_MAJOR) + "." + std::to_string(DNNL_VERSION_MINOR) + "." +
                                                        std::to_string(DNNL_VERSION_PATCH)));
  exports.Set("conv2d", Napi::Function::New(env, Guarded<Conv2d>, "conv2d"));
  exports.Set("conv2dBackpropInput", Napi::Function::New(env, Guarded<Conv2dBackpropInput>, "conv2dBackpropInput"));
  exports.Set("conv2dBackpropFilter", Napi::Function::New(env, Guarded<Conv2dBackpropFilter>, "conv2dBackpropFilter"));
  exports.Set("convPerSample", Napi::Function::New(env, Guarded<ConvPerSample>, "convPerSample"));
  exports.Set("matmul", Napi::Function::New(env, Guarded<Matmul>, "matmul"));
  exports.Set("patches", Napi::Function::New(env, Guarded<Patches>, "patches"));
  exports.Set("groupNorm", Napi::Function::New(env, Guarded<GroupNorm>, "groupNorm"));
  exports.Set("reduceSum", Napi::Function::New(env, Guarded<ReduceSum>, "reduceSum"));
  exports.Set("groupNormGrad", Napi::Function::New(env, Guarded<GroupNormGrad>, "groupNormGrad"));
  exports.Set("setThreads", Napi::Function::New(env, Guarded<SetThreads>, "setThreads"));
  exports.Set("threads", Napi::Function::New(env, Threads, "threads"));
  exports.Set("clearCache", Napi::Function::New(env, ClearCache, "clearCache"));
  exports.Set("cacheSize", Napi::Function::New(env, CacheSize, "cacheSize"));
  return exports;
}

}  // namespace

NODE_API_MODULE(unetc_native, Init)
