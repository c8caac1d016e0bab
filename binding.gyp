# The native engine (issue 4). One addon, `narrowsweep.node`, linking one static library per kernel
# build: the kernels are compiled once per instruction set (never only -march=native) and the
# addon picks the best one the CPU supports at run time. Built by scripts/build-native.mjs.
{
  'variables': {
    'ns_kernel_flags': ['-O3', '-fPIC', '-ffp-contract=fast', '-fno-math-errno', '-Wno-psabi'],
    # 1 when OpenBLAS's LAPACK and BLAS can be linked (libopenblas-dev, liblapacke-dev): the
    # factorisations, eigenvalues and Gram products then come from them (native/linalg.cc).
    'ns_lapack%': '<!(node scripts/detect-lapack.mjs)',
  },
  'targets': [
    {
      'target_name': 'ns_kernel_generic',
      'type': 'static_library',
      'sources': ['native/kernel_generic.cc'],
      'cflags_cc': ['<@(ns_kernel_flags)'],
      'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['<@(ns_kernel_flags)']},
      'conditions': [['target_arch=="x64" or target_arch=="ia32"', {'defines': ['NARROWSWEEP_X86']}]],
    },
    {
      'target_name': 'narrowsweep',
      'sources': ['native/addon.cc', 'native/linalg.cc'],
      'include_dirs': ["<!(node -p \"require('node-addon-api').include_dir\")"],
      'defines': ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', 'NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS'],
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions'],
      'cflags_cc': ['-O2', '-fexceptions'],
      'xcode_settings': {'GCC_ENABLE_CPP_EXCEPTIONS': 'YES', 'CLANG_CXX_LIBRARY': 'libc++', 'MACOSX_DEPLOYMENT_TARGET': '10.15'},
      'msvs_settings': {'VCCLCompilerTool': {'ExceptionHandling': 1}},
      'dependencies': ['ns_kernel_generic'],
      'conditions': [
        ['target_arch=="x64" or target_arch=="ia32"', {
          'defines': ['NARROWSWEEP_X86'],
          'dependencies': ['ns_kernel_avx2', 'ns_kernel_avx512'],
        }],
        ['ns_lapack==1', {
          'defines': ['NARROWSWEEP_LAPACK'],
          'libraries': ['-llapacke', '-lopenblas'],
        }],
      ],
    },
  ],
  'conditions': [
    ['target_arch=="x64" or target_arch=="ia32"', {
      'targets': [
        {
          'target_name': 'ns_kernel_avx2',
          'type': 'static_library',
          'sources': ['native/kernel_avx2.cc'],
          'defines': ['NARROWSWEEP_X86'],
          'cflags_cc': ['<@(ns_kernel_flags)', '-mavx2', '-mfma'],
          'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['<@(ns_kernel_flags)', '-mavx2', '-mfma']},
        },
        {
          'target_name': 'ns_kernel_avx512',
          'type': 'static_library',
          'sources': ['native/kernel_avx512.cc'],
          'defines': ['NARROWSWEEP_X86'],
          'cflags_cc': ['<@(ns_kernel_flags)', '-mavx2', '-mfma', '-mavx512f', '-mavx512dq', '-mavx512vl', '-mavx512bw'],
          'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['<@(ns_kernel_flags)', '-mavx2', '-mfma', '-mavx512f', '-mavx512dq', '-mavx512vl', '-mavx512bw']},
        },
      ],
    }],
  ],
}
