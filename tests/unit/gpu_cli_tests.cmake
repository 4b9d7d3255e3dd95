# acefit check-gpu and acefit config, end to end (included from
# tests/unit/CMakeLists.txt). The guide's simulation examples, the JSON keys,
# a .env in the working folder, bad input.

# MAX_CUDA_VRAM = 4, 6, 8, 12, 16 give tier1, tier2, tier4, tier5, tier6a
# (and 20, 24 give tier6b, unlimited), in both commands.
foreach(case "4:tier1" "6:tier2" "8:tier4" "12:tier5" "16:tier6a" "20:tier6b" "24:unlimited")
  string(REPLACE ":" ";" parts ${case})
  list(GET parts 0 vram)
  list(GET parts 1 tier)
  add_test(NAME cli.check_gpu.max_cuda_vram_${vram} COMMAND acefit check-gpu --json)
  set_tests_properties(cli.check_gpu.max_cuda_vram_${vram} PROPERTIES LABELS cli
    ENVIRONMENT "MAX_CUDA_VRAM=${vram}" PASS_REGULAR_EXPRESSION "\"tier\": \"${tier}\"")
  add_test(NAME cli.config.max_cuda_vram_${vram} COMMAND acefit config --json)
  set_tests_properties(cli.config.max_cuda_vram_${vram} PROPERTIES LABELS cli
    ENVIRONMENT "MAX_CUDA_VRAM=${vram}"
    PASS_REGULAR_EXPRESSION "\"tier\": {\n *\"origin\": \"MAX_CUDA_VRAM\",\n *\"reason\": [^\n]*\n *\"requested\": null,\n *\"source\": \"environment\",\n *\"value\": \"${tier}\"")
endforeach()

# Every JSON key check-gpu promises, with the tier4 values ('.' stands for
# a bracket: CMake does not split list items inside brackets).
set(ACEFIT_CHECK_GPU_KEYS
  "\"allowed_backends\": .\n *\"vllm\",\n *\"pt\",\n *\"mlx\"\n *."
  "\"backend\": \"vllm\"" "\"compile\": true" "\"devices\": ." "\"gpu_memory_gib\": 8.0"
  "\"max_batch\": 4" "\"max_duration_s\": 600"
  "\"init_lm\": true" "\"lm_models\": .\n *\"acestep-5Hz-lm-0.6B\"\n *."
  "\"max_batch_with_lm\": 2" "\"max_batch_without_lm\": 4" "\"max_duration_with_lm_s\": 480"
  "\"max_duration_without_lm_s\": 600" "\"offload\": \"cpu\\+dit\"" "\"quantization\": \"int8\""
  "\"recommended_lm\": \"acestep-5Hz-lm-0.6B\"" "\"tier\": \"tier4\""
  "\"tier_label\": \"tier4 \\(8-12GB\\)\"" "\"warnings\": .")
set(index 0)
foreach(key_regex IN LISTS ACEFIT_CHECK_GPU_KEYS)
  add_test(NAME cli.check_gpu.json_key_${index} COMMAND acefit check-gpu --json)
  set_tests_properties(cli.check_gpu.json_key_${index} PROPERTIES LABELS cli
    ENVIRONMENT "MAX_CUDA_VRAM=8;ACEFIT_DEVICE=sim" PASS_REGULAR_EXPRESSION "${key_regex}")
  math(EXPR index "${index} + 1")
endforeach()

# The text report: banner, every section, the simulation, the end line.
string(REPEAT "=" 80 ACEFIT_RULE)
add_test(NAME cli.check_gpu.text COMMAND acefit check-gpu)
set_tests_properties(cli.check_gpu.text PROPERTIES LABELS cli ENVIRONMENT "MAX_CUDA_VRAM=12"
  PASS_REGULAR_EXPRESSION "${ACEFIT_RULE}\nACE-Step GPU Detection Diagnostic Tool[^\n]*\n${ACEFIT_RULE}\n\nBuild\n  backends compiled in: cpu, sim.*\nDevices\n.*\nProbes\n.*\nSimulation\n  MAX_CUDA_VRAM: GPU memory taken as 12 GiB.*\nTier\n  tier5 \\(12-16GB\\), GPU memory 12 GiB\n  LM models: 0.6B, 1.7B \\(recommended: 1.7B\\)\n  Max duration: 480 s with LM, 600 s without\n  Max batch: 2 with LM, 4 without\n.*Environment variables\n  MAX_CUDA_VRAM=12 \\(environment\\).*Recommendations\n.*Diagnostic Complete")

# The sim device under MAX_CUDA_VRAM=6: tier2, budget cap max(0.5, 6 - 0.5) GiB.
add_test(NAME cli.check_gpu.sim_cap COMMAND acefit check-gpu --json --device sim)
set_tests_properties(cli.check_gpu.sim_cap PROPERTIES LABELS cli ENVIRONMENT "MAX_CUDA_VRAM=6"
  PASS_REGULAR_EXPRESSION "\"budget_cap_bytes\": 5905580032,.*\"tier\": \"tier2\"")

# Clamps and fallbacks reach the output with the guide's words. generate
# runs no LM yet, so the "without LM" limits apply even where the tier
# would load one (tier4 with LM: 480 s, batch 2).
add_test(NAME cli.config.clamps COMMAND acefit config --duration 600 --batch 8 --backend vllm)
set_tests_properties(cli.config.clamps PROPERTIES LABELS cli ENVIRONMENT "MAX_CUDA_VRAM=4"
  PASS_REGULAR_EXPRESSION "acefit config: warning: Requested batch size \\(8\\) exceeds the limit for your GPU \\(4 GiB\\)\\. Maximum allowed: 1 \\(without LM\\)\\. Batch size will be clamped to 1\\.\nacefit config: warning: Requested duration \\(600s\\) exceeds the limit for your GPU \\(4 GiB\\)\\. Maximum allowed: 360s \\(without LM\\)\\. Duration will be clamped to 360s\\.")
add_test(NAME cli.config.no_lm_limits COMMAND acefit config --batch 8)
set_tests_properties(cli.config.no_lm_limits PROPERTIES LABELS cli ENVIRONMENT "MAX_CUDA_VRAM=8"
  PASS_REGULAR_EXPRESSION "  batch +4 .*Maximum allowed: 4 \\(without LM\\)")
add_test(NAME cli.config.fallback_json COMMAND acefit config --json --backend vllm)
set_tests_properties(cli.config.fallback_json PROPERTIES LABELS cli ENVIRONMENT "MAX_CUDA_VRAM=6"
  PASS_REGULAR_EXPRESSION "\"backend\": {\n *\"origin\": \"--backend\",\n *\"reason\": \"The vllm backend is not allowed on tier2[^\n]*\n *\"requested\": \"vllm\",\n *\"source\": \"command line\",\n *\"value\": \"pt\"")
# Bare boolean flags mean true: --compile, --init-llm (with --force on tier1).
add_test(NAME cli.config.bare_flags COMMAND acefit config --json --init-llm --force --compile)
set_tests_properties(cli.config.bare_flags PROPERTIES LABELS cli ENVIRONMENT "MAX_CUDA_VRAM=4"
  PASS_REGULAR_EXPRESSION "\"init_lm\": {\n *\"origin\": \"--init-llm\",\n[^}]*\"value\": true")

# A .env in the working folder sits below the environment and the flags.
set(ACEFIT_DOTENV_DIR ${CMAKE_CURRENT_BINARY_DIR}/dotenv-folder)
file(MAKE_DIRECTORY ${ACEFIT_DOTENV_DIR})
file(WRITE ${ACEFIT_DOTENV_DIR}/.env "# test settings\nMAX_CUDA_VRAM=12\nACESTEP_LM_BACKEND=pt\nACESTEP_BATCH_SIZE=1\n")
add_test(NAME cli.config.dotenv COMMAND acefit config --json --batch 2)
set_tests_properties(cli.config.dotenv PROPERTIES LABELS cli WORKING_DIRECTORY ${ACEFIT_DOTENV_DIR}
  ENVIRONMENT "ACESTEP_LM_BACKEND=vllm"
  PASS_REGULAR_EXPRESSION "\"backend\": {\n *\"origin\": \"ACESTEP_LM_BACKEND\",\n[^}]*\"source\": \"environment\",\n *\"value\": \"vllm\".*\"batch\": {\n *\"origin\": \"--batch\",\n[^}]*\"source\": \"command line\",\n *\"value\": 2.*\"tier\": {\n *\"origin\": \"MAX_CUDA_VRAM\",\n[^}]*\"source\": \".env\",\n *\"value\": \"tier5\"")

# Bad input: exit 2 and one line on stderr naming what was wrong.
foreach(case
    "bad_backend|config --backend tensorrt|--backend: invalid value 'tensorrt'"
    "bad_duration|config --duration abc|--duration: invalid value 'abc'"
    "bad_quantization|config --quantization int4_weight_only|Unsupported quantization type"
    "bad_tier|config --tier tier9|--tier: invalid value 'tier9'"
    "missing_tier_table|check-gpu --tier-table /nonexistent/tiers.json|/nonexistent/tiers.json"
    "bad_device|check-gpu --device tpu|unknown device 'tpu'")
  string(REPLACE "|" ";" parts "${case}")
  list(GET parts 0 name)
  list(GET parts 1 arguments)
  list(GET parts 2 message)
  add_test(NAME cli.gpu_bad_input.${name}
    COMMAND sh -c "err=$($0 $1 2>&1 >/dev/null); rc=$?; echo \"$err\"; [ $rc -eq 2 ] && [ $(printf '%s\\n' \"$err\" | wc -l) -eq 1 ] && printf '%s' \"$err\" | grep -qF -- \"$2\""
            $<TARGET_FILE:acefit> "${arguments}" "${message}")
  set_tests_properties(cli.gpu_bad_input.${name} PROPERTIES LABELS cli)
endforeach()

# A tier table file replaces the built-in one.
set(ACEFIT_TIER_FILE ${CMAKE_CURRENT_BINARY_DIR}/two-tiers.json)
file(WRITE ${ACEFIT_TIER_FILE} [=[{"format": "acefit-tier-table-1", "tiers": [
 {"name": "small", "label": "small (<10GB)", "min_memory_gib": 0, "max_duration_with_lm_s": 120,
  "max_duration_without_lm_s": 240, "max_batch_with_lm": 1, "max_batch_without_lm": 2,
  "init_lm_default": false, "lm_models": [], "recommended_lm": null, "allowed_backends": ["pt"],
  "recommended_backend": "pt", "offload": "cpu+dit", "quantization": "int8", "compile": true,
  "lm_memory_gib": {}},
 {"name": "big", "label": "big (>=10GB)", "min_memory_gib": 10, "max_duration_with_lm_s": 300,
  "max_duration_without_lm_s": 600, "max_batch_with_lm": 3, "max_batch_without_lm": 6,
  "init_lm_default": true, "lm_models": ["0.6B"], "recommended_lm": "0.6B",
  "allowed_backends": ["pt"], "recommended_backend": "pt", "offload": "none",
  "quantization": "none", "compile": true, "lm_memory_gib": {}}]}
]=])
add_test(NAME cli.check_gpu.tier_table COMMAND acefit check-gpu --json --tier-table ${ACEFIT_TIER_FILE})
set_tests_properties(cli.check_gpu.tier_table PROPERTIES LABELS cli ENVIRONMENT "MAX_CUDA_VRAM=12"
  PASS_REGULAR_EXPRESSION "\"max_batch_with_lm\": 3,.*\"tier\": \"big\",\n *\"tier_label\": \"big \\(>=10GB\\)\"")

# check-gpu on machines acefit's CI does not have, through the fake vendor
# libraries of tests/fakes (every other probe turned off).
set(ACEFIT_PROBES_OFF "ACEFIT_NVML_LIBRARY=none ACEFIT_CUDA_DRIVER_LIBRARY=none ACEFIT_ROCM_SMI_LIBRARY=none ACEFIT_LEVEL_ZERO_LIBRARY=none ACEFIT_VULKAN_LIBRARY=none")
add_test(NAME cli.check_gpu.fake_nvidia_24gb
  COMMAND sh -c "env ${ACEFIT_PROBES_OFF} ACEFIT_NVML_LIBRARY=\"$1\" ACEFIT_FAKE_NVML='devices=1;name0=NVIDIA GeForce RTX 4090;total0=25390809088;free0=24000000000;cc0=8.9;driver=550.54.14;cuda=12040' \"$0\" check-gpu --json"
          $<TARGET_FILE:acefit> $<TARGET_FILE:fake_nvml>)
set_tests_properties(cli.check_gpu.fake_nvidia_24gb PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "\"compute_capability\": \"8.9\",\n *\"driver_version\": \"550.54.14\",.*\"memory_known\": true,\n *\"name\": \"NVIDIA GeForce RTX 4090\",.*\"gpu_memory_gib\": 23.64[0-9]*,.*\"tier\": \"unlimited\"")
add_test(NAME cli.check_gpu.fake_amd_16gb
  COMMAND sh -c "env ${ACEFIT_PROBES_OFF} ACEFIT_ROCM_SMI_LIBRARY=\"$1\" ACEFIT_FAKE_ROCM_SMI='devices=1;name0=Radeon RX 7900 XTX;total0=17163091968;free0=16000000000' \"$0\" check-gpu"
          $<TARGET_FILE:acefit> $<TARGET_FILE:fake_rocm_smi>)
set_tests_properties(cli.check_gpu.fake_amd_16gb PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "GPU 0: AMD Radeon RX 7900 XTX \\(rocm-smi\\).*Total memory: 16368.0 MiB.*tier6a \\(16-20GB\\).*HSA_OVERRIDE_GFX_VERSION=11.0.0.*(no usable Vulkan GPU|no GPU backend) for AMD Radeon RX 7900 XTX")
add_test(NAME cli.check_gpu.fake_unknown_memory
  COMMAND sh -c "env ${ACEFIT_PROBES_OFF} ACEFIT_NVML_LIBRARY=\"$1\" ACEFIT_FAKE_NVML='devices=1;name0=Mystery GPU;total0=0;free0=0' \"$0\" check-gpu --json"
          $<TARGET_FILE:acefit> $<TARGET_FILE:fake_nvml>)
set_tests_properties(cli.check_gpu.fake_unknown_memory PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "\"memory_known\": false,.*\"tier\": \"tier1\".*GPU Mystery GPU did not report its memory")

# Hostile trial (issue 12): no GPU is not a 4 GB GPU. With every probe off and
# the CPU chosen, config and check-gpu say "CPU, no GPU tier" and show the
# limits of the memory plan against the available RAM; offload none, no INT8.
add_test(NAME cli.config.cpu_no_tier
  COMMAND sh -c "env ${ACEFIT_PROBES_OFF} ACEFIT_DEVICE=cpu \"$0\" config" $<TARGET_FILE:acefit>)
set_tests_properties(cli.config.cpu_no_tier PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "\n  tier +none +device +CPU, no GPU tier\n.*\n  offload +none .*\n  quantization +null .*\n  max_duration_s +[0-9]+ +tier +CPU, no GPU tier: the memory plan against [0-9.]+ GiB of available RAM")
add_test(NAME cli.check_gpu.cpu_no_tier
  COMMAND sh -c "env ${ACEFIT_PROBES_OFF} ACEFIT_DEVICE=cpu \"$0\" check-gpu" $<TARGET_FILE:acefit>)
set_tests_properties(cli.check_gpu.cpu_no_tier PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "\nTier\n  CPU, no GPU tier\n  Limits: CPU, no GPU tier: the memory plan against [0-9.]+ GiB of available RAM[^\n]*\n  Max duration: [0-9]+ s\n  Max batch: [1-8]\n.*Offload: none; quantization: none"
  FAIL_REGULAR_EXPRESSION "tier1")
# MAX_CUDA_VRAM on the CPU: the warning says only the tier changed; with
# ACEFIT_DEVICE=sim it is a simulated GPU and no such warning.
add_test(NAME cli.config.max_cuda_vram_on_cpu COMMAND acefit config --device cpu)
set_tests_properties(cli.config.max_cuda_vram_on_cpu PROPERTIES LABELS cli ENVIRONMENT "MAX_CUDA_VRAM=8"
  PASS_REGULAR_EXPRESSION "warning: MAX_CUDA_VRAM=8 changes only the tier \\(tier4: its limits and LM choices\\): runs stay on the CPU[^\n]*Set ACEFIT_DEVICE=sim as well to also cap memory like a GPU of that size \\(budget 7.5 GiB\\)")
add_test(NAME cli.config.max_cuda_vram_on_sim COMMAND acefit config --device sim)
set_tests_properties(cli.config.max_cuda_vram_on_sim PROPERTIES LABELS cli ENVIRONMENT "MAX_CUDA_VRAM=8"
  PASS_REGULAR_EXPRESSION "tier4" FAIL_REGULAR_EXPRESSION "changes only the tier")
# One unit family: GiB / MiB in keys and text, never _gb / _mb / GB / MB.
foreach(command "check-gpu --json" "check-gpu" "config --json" "config" "devices")
  string(REPLACE " " "_" name "${command}")
  string(REPLACE "-" "_" name "${name}")
  separate_arguments(arguments UNIX_COMMAND "${command}")
  add_test(NAME cli.units.${name} COMMAND acefit ${arguments})
  set_tests_properties(cli.units.${name} PROPERTIES LABELS cli ENVIRONMENT "MAX_CUDA_VRAM=12"
    PASS_REGULAR_EXPRESSION "GiB|MiB" FAIL_REGULAR_EXPRESSION "_gb\"|_mb\"|[0-9] [GM]B[^a-zA-Z]|[0-9][GM]B \\(set")
endforeach()
# Without a driver: "no NVIDIA driver found" once, never the CUDA runtime's
# error code; a failed generate prints its error alone.
foreach(command "check-gpu" "config" "devices")
  add_test(NAME cli.no_driver.${command}
    COMMAND sh -c "out=$(\"$0\" $1 2>&1); n=$(printf '%s\\n' \"$out\" | grep -c 'no NVIDIA driver found'); echo \"$out\"; [ $n -le 1 ]"
            $<TARGET_FILE:acefit> ${command})
  set_tests_properties(cli.no_driver.${command} PROPERTIES LABELS cli
    FAIL_REGULAR_EXPRESSION "cudaError|insufficient for CUDA runtime")
endforeach()
add_test(NAME cli.no_driver.generate_error_first
  COMMAND sh -c "err=$(\"$0\" generate --checkpoints /nonexistent-acefit --caption x --out /tmp/acefit-never.wav 2>&1 >/dev/null); echo \"$err\"; [ $(printf '%s\\n' \"$err\" | wc -l) -eq 1 ]"
          $<TARGET_FILE:acefit>)
set_tests_properties(cli.no_driver.generate_error_first PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "^acefit generate: [^\n]*nonexistent-acefit")
