// Fused QK-RMSNorm + RoPE (see qk_norm_rope.h for the exact semantics).
//
// Work split: one warp per token (b, l). Lane i owns the VEC = D/32 consecutive elements [i·VEC, (i+1)·VEC) of
// every head row, i.e. VEC/2 whole rotation pairs, so the lane's part of the pe row and of both scales is the same
// for all 2·H rows of the token: it is loaded once into registers and reused. Each row is one coalesced load and
// one coalesced store of D elements; the sum of squares is a 5-step butterfly. Two heads (four rows: q and k of
// each) are processed together so that four independent loads are in flight per warp.
//
// Bytes: q and k are read once and written once; pe (2·D floats per token) is read once per token instead of once
// per head. On an H100 at 16 MP bf16 (66,560 tokens × 3072 features × 2 tensors) that is 1.6 GB of traffic, about
// 0.55 ms at 3 TB/s, against roughly a dozen such passes in the unfused path.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <string>

#include "core/common/error.h"
#include "core/cuda/qk_norm_rope.h"

namespace dype::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kHeadsPerStep = 2;

template <typename T>
struct Elem;

template <>
struct Elem<float> {
  __device__ static float to_float(float v) { return v; }
  __device__ static float from_float(float v) { return v; }
  __device__ static float round(float v) { return v; }
};

template <>
struct Elem<__nv_bfloat16> {
  __device__ static float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
  __device__ static __nv_bfloat16 from_float(float v) { return __float2bfloat16_rn(v); }
  __device__ static float round(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }
};

template <>
struct Elem<__half> {
  __device__ static float to_float(__half v) { return __half2float(v); }
  __device__ static __half from_float(float v) { return __float2half_rn(v); }
  __device__ static float round(float v) { return __half2float(__float2half_rn(v)); }
};

// VEC elements of T loaded or stored with one (or, for 32 bytes, two) vector instructions.
template <typename T, int VEC>
struct alignas(sizeof(T) * VEC) Pack {
  T v[VEC];
};

template <typename T, int VEC, bool ALIGNED>
__device__ __forceinline__ void load_row(const T* src, float (&x)[VEC]) {
  if constexpr (ALIGNED) {
    const Pack<T, VEC> p = *reinterpret_cast<const Pack<T, VEC>*>(src);
#pragma unroll
    for (int i = 0; i < VEC; ++i) x[i] = Elem<T>::to_float(p.v[i]);
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i) x[i] = Elem<T>::to_float(src[i]);
  }
}

// Bit pattern of one element, as the low bits of a 32-bit word.
__device__ __forceinline__ unsigned bits_of(float v) { return __float_as_uint(v); }
__device__ __forceinline__ unsigned bits_of(__nv_bfloat16 v) { return __bfloat16_as_ushort(v); }
__device__ __forceinline__ unsigned bits_of(__half v) { return __half_as_ushort(v); }

template <typename T, int VEC, bool ALIGNED>
__device__ __forceinline__ void store_row(T* dst, const float (&y)[VEC]) {
  if constexpr (ALIGNED) {
    // Assembled into 32-bit words and written with 16-byte (or 8-/4-byte) stores: a struct copy of converted
    // elements compiles into one store per element.
    constexpr int kPerWord = 4 / sizeof(T), kWords = VEC / kPerWord;
    unsigned w[kWords];
#pragma unroll
    for (int i = 0; i < kWords; ++i) w[i] = 0;
#pragma unroll
    for (int i = 0; i < VEC; ++i)
      w[i / kPerWord] |= bits_of(Elem<T>::from_float(y[i])) << (32 / kPerWord * (i % kPerWord));
    // Explicit vector stores: NVVM splits a uint2/uint4 struct assignment into 32-bit stores here.
    if constexpr (kWords % 4 == 0) {
#pragma unroll
      for (int i = 0; i < kWords; i += 4)
        asm volatile("st.global.v4.b32 [%0], {%1, %2, %3, %4};" ::"l"(reinterpret_cast<uint4*>(dst) + i / 4), "r"(w[i]),
                     "r"(w[i + 1]), "r"(w[i + 2]), "r"(w[i + 3])
                     : "memory");
    } else if constexpr (kWords == 2) {
      asm volatile("st.global.v2.b32 [%0], {%1, %2};" ::"l"(dst), "r"(w[0]), "r"(w[1]) : "memory");
    } else {
      *reinterpret_cast<unsigned*>(dst) = w[0];
    }
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i) dst[i] = Elem<T>::from_float(y[i]);
  }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Normalise and rotate one lane's VEC elements of a row, in place in x.
template <typename T, int VEC>
__device__ __forceinline__ void norm_rope(float (&x)[VEC], float rrms, const float (&scale)[VEC],
                                          const float (&pe)[2 * VEC]) {
  float y[VEC];
#pragma unroll
  for (int i = 0; i < VEC; ++i) y[i] = Elem<T>::round(Elem<T>::round(x[i] * rrms) * scale[i]);
#pragma unroll
  for (int j = 0; j < VEC / 2; ++j) {
    const float y0 = y[2 * j], y1 = y[2 * j + 1];
    // Separate roundings of both products and the sum, as the elementwise kernels of the unfused path.
    x[2 * j] = __fadd_rn(__fmul_rn(pe[4 * j + 0], y0), __fmul_rn(pe[4 * j + 1], y1));
    x[2 * j + 1] = __fadd_rn(__fmul_rn(pe[4 * j + 2], y0), __fmul_rn(pe[4 * j + 3], y1));
  }
}

template <typename T, int VEC>
__device__ __forceinline__ void load_scale(const void* s, bool is_f32, int lane, float (&out)[VEC]) {
#pragma unroll
  for (int i = 0; i < VEC; ++i) {
    const float v = is_f32 ? static_cast<const float*>(s)[lane * VEC + i]
                           : Elem<T>::to_float(static_cast<const T*>(s)[lane * VEC + i]);
    out[i] = Elem<T>::round(v);  // the unfused path casts the scale to the activations' dtype first
  }
}

template <typename T, int VEC, bool ALIGNED>
__global__ void __launch_bounds__(kWarpsPerBlock * 32) qk_norm_rope_kernel(QkNormRopeParams p) {
  const int lane = threadIdx.x & 31;
  const std::int64_t token = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (token >= p.batch * p.tokens) return;  // whole warps exit together: the shuffles below stay full-warp
  const std::int64_t b = token / p.tokens, l = token % p.tokens;
  const int D = static_cast<int>(p.head_dim);
  const float inv_d = 1.0f / static_cast<float>(D);

  float pe[2 * VEC];  // this lane's VEC/2 pairs × [2][2]
  const float* pe_row = p.pe + b * p.pe_batch_stride + l * 2 * D + lane * 2 * VEC;
#pragma unroll
  for (int i = 0; i < 2 * VEC; i += 4) {
    const float4 v = __ldg(reinterpret_cast<const float4*>(pe_row + i));
    pe[i] = v.x, pe[i + 1] = v.y, pe[i + 2] = v.z, pe[i + 3] = v.w;
  }
  float qs[VEC], ks[VEC];
  load_scale<T, VEC>(p.q_scale, p.scale_is_f32, lane, qs);
  load_scale<T, VEC>(p.k_scale, p.scale_is_f32, lane, ks);

  const T* q_in = static_cast<const T*>(p.q) + b * p.in.batch + l * p.in.token + lane * VEC;
  const T* k_in = static_cast<const T*>(p.k) + b * p.in.batch + l * p.in.token + lane * VEC;
  T* q_out = static_cast<T*>(p.q_out) + b * p.out.batch + l * p.out.token + lane * VEC;
  T* k_out = static_cast<T*>(p.k_out) + b * p.out.batch + l * p.out.token + lane * VEC;

  const int H = static_cast<int>(p.heads);
  for (int h0 = 0; h0 < H; h0 += kHeadsPerStep) {
    float x[2 * kHeadsPerStep][VEC];  // rows: q(h0), k(h0), q(h0+1), k(h0+1)
    float ss[2 * kHeadsPerStep];
#pragma unroll
    for (int r = 0; r < kHeadsPerStep; ++r) {
      if (h0 + r < H) {
        load_row<T, VEC, ALIGNED>(q_in + (h0 + r) * p.in.head, x[2 * r]);
        load_row<T, VEC, ALIGNED>(k_in + (h0 + r) * p.in.head, x[2 * r + 1]);
      }
    }
#pragma unroll
    for (int r = 0; r < 2 * kHeadsPerStep; ++r) {
      float s = 0.f;
      if (h0 + r / 2 < H) {
#pragma unroll
        for (int i = 0; i < VEC; ++i) s += x[r][i] * x[r][i];
      }
      ss[r] = warp_sum(s);
    }
#pragma unroll
    for (int r = 0; r < kHeadsPerStep; ++r) {
      if (h0 + r < H) {
        norm_rope<T, VEC>(x[2 * r], rsqrtf(ss[2 * r] * inv_d + p.eps), qs, pe);
        norm_rope<T, VEC>(x[2 * r + 1], rsqrtf(ss[2 * r + 1] * inv_d + p.eps), ks, pe);
        store_row<T, VEC, ALIGNED>(q_out + (h0 + r) * p.out.head, x[2 * r]);
        store_row<T, VEC, ALIGNED>(k_out + (h0 + r) * p.out.head, x[2 * r + 1]);
      }
    }
  }
}

bool aligned_to(const void* ptr, std::size_t bytes) { return reinterpret_cast<std::uintptr_t>(ptr) % bytes == 0; }

template <typename T, int VEC>
void launch_typed(const QkNormRopeParams& p, cudaStream_t stream) {
  const std::size_t pack = sizeof(T) * VEC;
  const auto stride_ok = [&](const RowStrides& s) {
    return (s.batch * sizeof(T)) % pack == 0 && (s.head * sizeof(T)) % pack == 0 && (s.token * sizeof(T)) % pack == 0;
  };
  const bool aligned = aligned_to(p.q, pack) && aligned_to(p.k, pack) && aligned_to(p.q_out, pack) &&
                       aligned_to(p.k_out, pack) && stride_ok(p.in) && stride_ok(p.out);
  const std::int64_t rows = p.batch * p.tokens;
  const dim3 grid(static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock));
  const dim3 block(kWarpsPerBlock * 32);
  if (aligned)
    qk_norm_rope_kernel<T, VEC, true><<<grid, block, 0, stream>>>(p);
  else
    qk_norm_rope_kernel<T, VEC, false><<<grid, block, 0, stream>>>(p);
}

template <typename T>
void launch_for_dim(const QkNormRopeParams& p, cudaStream_t stream) {
  switch (p.head_dim) {
    case 64: return launch_typed<T, 2>(p, stream);
    case 128: return launch_typed<T, 4>(p, stream);
    default: return launch_typed<T, 8>(p, stream);  // 256 (validated before)
  }
}

std::string num(std::int64_t v) { return std::to_string(v); }

}  // namespace

void launch_qk_norm_rope(const QkNormRopeParams& p, void* stream) {
  if (p.batch <= 0 || p.heads <= 0 || p.tokens <= 0)
    throw InvalidArgument("qk_norm_rope: batch, heads and tokens must be positive; got " + num(p.batch) + ", " +
                          num(p.heads) + ", " + num(p.tokens));
  if (!qk_norm_rope_supports_head_dim(p.head_dim))
    throw InvalidArgument("qk_norm_rope: head_dim " + num(p.head_dim) +
                          " is not supported (64, 128 and 256 are; use the unfused path)");
  if (!p.q || !p.k || !p.q_out || !p.k_out || !p.q_scale || !p.k_scale || !p.pe)
    throw InvalidArgument("qk_norm_rope: a tensor pointer is null");
  if (p.batch * p.tokens > static_cast<std::int64_t>(2147483647) * kWarpsPerBlock)
    throw InvalidArgument("qk_norm_rope: too many tokens (" + num(p.batch * p.tokens) + ") for one launch");
  if (!aligned_to(p.pe, 16))
    throw InvalidArgument("qk_norm_rope: the pe table must be 16-byte aligned (a contiguous float32 tensor)");
  const auto s = static_cast<cudaStream_t>(stream);
  switch (p.dtype) {
    case ElementType::F32: launch_for_dim<float>(p, s); break;
    case ElementType::BF16: launch_for_dim<__nv_bfloat16>(p, s); break;
    case ElementType::F16: launch_for_dim<__half>(p, s); break;
    default: throw InvalidArgument("qk_norm_rope: unknown element type " + num(static_cast<int>(p.dtype)));
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw Error(std::string("qk_norm_rope: kernel launch failed: ") + cudaGetErrorString(err));
}

}  // namespace dype::cuda
