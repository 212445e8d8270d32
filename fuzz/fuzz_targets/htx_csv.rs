#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| por_attest_fuzz::htx::htx_csv(data));
