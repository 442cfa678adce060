/*
 * A stand-in for libnvidia-ml.so.1, built by gpu-detect.int.spec.ts with the system C compiler, so
 * that the koffi binding runs against a real shared library whose structs the C compiler lays out
 * from the same declarations as nvml.h. It checks the ABI of the binding (struct sizes and offsets,
 * out parameters, the INSUFFICIENT_SIZE protocol), not how a real driver behaves.
 *
 * Variants, chosen at compile time:
 *   (default)                 two GPUs; processes appear between the count call and the fill call
 *   -DFAKE_DRIVER_NOT_LOADED  nvmlInit_v2 fails with NVML_ERROR_DRIVER_NOT_LOADED
 *   -DFAKE_NO_V3              an older driver: only the v1 process queries (nvmlProcessInfo_v1_t)
 */
#include <string.h>

typedef int nvmlReturn_t;
#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NOT_FOUND 6
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_ERROR_DRIVER_NOT_LOADED 9
#define NVML_VALUE_NOT_AVAILABLE (~0ULL)

typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
typedef struct {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
} nvmlProcessInfo_t;
typedef struct { unsigned int pid; unsigned long long usedGpuMemory; } nvmlProcessInfo_v1_t;

typedef struct {
  const char *name, *uuid;
  unsigned long long total, free;
  int util_supported; unsigned int util_gpu, util_mem;
  unsigned int temp;
  int power_supported; unsigned int power_mw, limit_mw;
  int cc_major, cc_minor;
  unsigned int compute_pids[4]; unsigned long long compute_mem[4]; unsigned int compute_n;
  unsigned int graphics_pids[4]; unsigned long long graphics_mem[4]; unsigned int graphics_n;
} fake_device;

#define MIB (1024ULL * 1024ULL)
static fake_device devices[2] = {
  { "NVIDIA GeForce RTX 3080", "GPU-5f1c2a8e-77d4-3c1e-9b0a-2d6f4e8c1a93", 10240 * MIB, 1502 * MIB,
    1, 97, 61, 71, 1, 301450, 320000, 8, 6,
    { 7001, 4242, 4243 }, { 2048 * MIB, 1834 * MIB, 12 * MIB }, 3,
    { 4242, 1368 }, { 1834 * MIB, 256 * MIB }, 2 },
  { "NVIDIA GeForce RTX 3060", "GPU-0b9d7e31-4a2c-11ee-8c90-0242ac120002", 12288 * MIB, 12000 * MIB,
    0, 0, 0, 45, 0, 0, 0, 8, 6,
    { 0 }, { 0 }, 0,
    { 1368 }, { NVML_VALUE_NOT_AVAILABLE }, 1 },
};

static int initialised = 0;
/* Calls to the compute query on device 0: the first answers as if fewer processes ran. */
static int compute_calls = 0;

int fake_nvml_init_count(void) { return initialised; }

nvmlReturn_t nvmlInit_v2(void) {
#ifdef FAKE_DRIVER_NOT_LOADED
  return NVML_ERROR_DRIVER_NOT_LOADED;
#else
  initialised++;
  return NVML_SUCCESS;
#endif
}
nvmlReturn_t nvmlShutdown(void) {
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  initialised--;
  return NVML_SUCCESS;
}
const char *nvmlErrorString(nvmlReturn_t r) {
  switch (r) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    default: return "Unknown Error";
  }
}

static nvmlReturn_t copy_string(const char *s, char *buf, unsigned int len) {
  if (!buf) return NVML_ERROR_INVALID_ARGUMENT;
  if (strlen(s) + 1 > len) return NVML_ERROR_INSUFFICIENT_SIZE;
  strcpy(buf, s);
  return NVML_SUCCESS;
}
static fake_device *dev(void *handle) {
  if (!initialised) return 0;
  if (handle == &devices[0]) return &devices[0];
  if (handle == &devices[1]) return &devices[1];
  return 0;
}
#define DEV_OR_FAIL(h) fake_device *d = dev(h); if (!d) return initialised ? NVML_ERROR_INVALID_ARGUMENT : NVML_ERROR_UNINITIALIZED

nvmlReturn_t nvmlSystemGetDriverVersion(char *buf, unsigned int len) { return copy_string("550.54.14", buf, len); }
nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v) { if (!v) return NVML_ERROR_INVALID_ARGUMENT; *v = 12040; return NVML_SUCCESS; }
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n) { if (!initialised) return NVML_ERROR_UNINITIALIZED; *n = 2; return NVML_SUCCESS; }
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **out) {
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  if (i > 1 || !out) return NVML_ERROR_INVALID_ARGUMENT;
  *out = &devices[i];
  return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetName(void *h, char *buf, unsigned int len) { DEV_OR_FAIL(h); return copy_string(d->name, buf, len); }
nvmlReturn_t nvmlDeviceGetUUID(void *h, char *buf, unsigned int len) { DEV_OR_FAIL(h); return copy_string(d->uuid, buf, len); }
nvmlReturn_t nvmlDeviceGetMemoryInfo(void *h, nvmlMemory_t *m) {
  DEV_OR_FAIL(h);
  m->total = d->total; m->free = d->free; m->used = d->total - d->free;
  return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetUtilizationRates(void *h, nvmlUtilization_t *u) {
  DEV_OR_FAIL(h);
  if (!d->util_supported) return NVML_ERROR_NOT_SUPPORTED;
  u->gpu = d->util_gpu; u->memory = d->util_mem;
  return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetTemperature(void *h, int sensor, unsigned int *t) {
  DEV_OR_FAIL(h);
  if (sensor != 0) return NVML_ERROR_INVALID_ARGUMENT;
  *t = d->temp;
  return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetPowerUsage(void *h, unsigned int *mw) {
  DEV_OR_FAIL(h);
  if (!d->power_supported) return NVML_ERROR_NOT_SUPPORTED;
  *mw = d->power_mw;
  return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(void *h, unsigned int *mw) {
  DEV_OR_FAIL(h);
  if (!d->power_supported) return NVML_ERROR_NOT_SUPPORTED;
  *mw = d->limit_mw;
  return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetCudaComputeCapability(void *h, int *major, int *minor) {
  DEV_OR_FAIL(h);
  *major = d->cc_major; *minor = d->cc_minor;
  return NVML_SUCCESS;
}
nvmlReturn_t nvmlSystemGetProcessName(unsigned int pid, char *buf, unsigned int len) {
  switch (pid) {
    case 4242: return copy_string("C:\\Games\\Cyberpunk 2077\\bin\\x64\\game.exe", buf, len);
    case 1368: return copy_string("/usr/lib/xorg/Xorg", buf, len);
    case 7001: return copy_string("node", buf, len);
    default: return NVML_ERROR_NOT_FOUND;
  }
}

/* The NVML size protocol: too small a buffer answers INSUFFICIENT_SIZE with the count needed. */
static nvmlReturn_t fill(unsigned int *count, void *infos, size_t stride, const unsigned int *pids,
                         const unsigned long long *mem, unsigned int n) {
  if (!count) return NVML_ERROR_INVALID_ARGUMENT;
  if (*count < n || (n && !infos)) { *count = n; return n ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS; }
  for (unsigned int i = 0; i < n; i++) {
    char *p = (char *)infos + i * stride;
    if (stride == sizeof(nvmlProcessInfo_t)) {
      nvmlProcessInfo_t *info = (nvmlProcessInfo_t *)p;
      info->pid = pids[i]; info->usedGpuMemory = mem[i];
      info->gpuInstanceId = 0xFFFFFFFF; info->computeInstanceId = 0xFFFFFFFF;
    } else {
      nvmlProcessInfo_v1_t *info = (nvmlProcessInfo_v1_t *)p;
      info->pid = pids[i]; info->usedGpuMemory = mem[i];
    }
  }
  *count = n;
  return NVML_SUCCESS;
}
static nvmlReturn_t compute(void *h, unsigned int *count, void *infos, size_t stride) {
  DEV_OR_FAIL(h);
  unsigned int n = d->compute_n;
  /* A process starts between the caller's count query and its fill: the first answer is one short. */
  if (d == &devices[0] && compute_calls++ == 0) n = n - 1;
  return fill(count, infos, stride, d->compute_pids, d->compute_mem, n);
}
static nvmlReturn_t graphics(void *h, unsigned int *count, void *infos, size_t stride) {
  DEV_OR_FAIL(h);
  return fill(count, infos, stride, d->graphics_pids, d->graphics_mem, d->graphics_n);
}

#ifdef FAKE_NO_V3
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(void *h, unsigned int *c, nvmlProcessInfo_v1_t *i) { return compute(h, c, i, sizeof *i); }
nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(void *h, unsigned int *c, nvmlProcessInfo_v1_t *i) { return graphics(h, c, i, sizeof *i); }
#else
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(void *h, unsigned int *c, nvmlProcessInfo_t *i) { return compute(h, c, i, sizeof *i); }
nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(void *h, unsigned int *c, nvmlProcessInfo_t *i) { return graphics(h, c, i, sizeof *i); }
#endif
