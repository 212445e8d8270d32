//! The device side: APDU commands as the apps parse them, the chunked personal-message
//! assembly, wallet-policy text, and the simulated Ledger fed any sequence of APDUs.

use crate::input::Input;
use firmware_messages::bitcoin::commands::BitcoinCommand;
use firmware_messages::bitcoin::policy::{
    DescriptorTemplate, KeyInfo, PolicyHeader, PolicyVersion,
};
use firmware_messages::dashboard::DashboardCommand;
use firmware_messages::ethereum::EthCommand;
use firmware_messages::personal_message::{Assembly, PersonalMessageAssembler};
use firmware_messages::tron::TronCommand;
use firmware_messages::{Bip32Path, Command};
use por_attest::simulator::{DeviceOutput, SimulatedLedger, SimulatorConfig};

/// First byte chooses: APDUs for the app parsers (with encode round trips), personal-message
/// chunks, policy text, or a whole APDU sequence to the simulator.
pub fn device_commands(data: &[u8]) {
    let mut input = Input::new(data);
    match input.u8() % 4 {
        0 => {
            while !input.is_empty() {
                parsers(input.piece());
            }
        }
        1 => {
            let mut a = PersonalMessageAssembler::default();
            while !input.is_empty() {
                let first = input.u8() & 1 == 1;
                if let Ok(Assembly::Complete { path, .. }) = a.feed(first, input.piece()) {
                    assert!(path.indices().len() <= PersonalMessageAssembler::MAX_PATH_DEPTH);
                    assert!(!a.in_progress(), "complete but still in progress");
                }
            }
        }
        2 => policy_text(input.rest()),
        _ => simulator(&mut input),
    }
}

fn parsers(apdu: &[u8]) {
    let Ok(c) = Command::decode(apdu) else {
        return;
    };
    // A bare 4-byte header (no Lc) is accepted and re-encodes with Lc 0: the same command.
    let wire = c.encode().expect("a decoded APDU encodes");
    assert!(
        wire == apdu || (apdu.len() == 4 && wire == [apdu, &[0]].concat()),
        "a decoded APDU encodes to other bytes"
    );
    assert_eq!(Command::decode(&wire).as_ref(), Ok(&c), "APDU round trip");
    if let Ok(b) = BitcoinCommand::from_command(&c) {
        let again = b.to_command();
        assert_eq!(
            BitcoinCommand::from_command(&again).as_ref(),
            Ok(&b),
            "Bitcoin command round trip"
        );
        if let BitcoinCommand::RegisterWallet { policy } = &b {
            let _ = PolicyHeader::decode(policy);
        }
    }
    if let Ok(d) = DashboardCommand::from_command(&c) {
        assert_eq!(
            DashboardCommand::from_command(&d.to_command()).as_ref(),
            Ok(&d),
            "dashboard command round trip"
        );
    }
    if let Ok(EthCommand::GetAddress(g)) = EthCommand::from_command(&c) {
        assert_eq!(
            EthCommand::from_command(&g.to_command()),
            Ok(EthCommand::GetAddress(g)),
            "Ethereum get-address round trip"
        );
    }
    if let Ok(TronCommand::GetAddress(g)) = TronCommand::from_command(&c) {
        assert_eq!(
            TronCommand::from_command(&g.to_command()),
            Ok(TronCommand::GetAddress(g)),
            "Tron get-address round trip"
        );
    }
}

fn policy_text(b: &[u8]) {
    let Ok(s) = std::str::from_utf8(b) else {
        return;
    };
    for v in [PolicyVersion::V1, PolicyVersion::V2] {
        if let Ok(t) = DescriptorTemplate::parse(s, v) {
            let _ = t.placeholders();
            let _ = t.as_default();
        }
    }
    if let Ok(k) = s.parse::<KeyInfo>() {
        let text = k.to_string();
        assert_eq!(text.parse::<KeyInfo>().ok(), Some(k), "key info round trip");
    }
    if let Ok(p) = s.parse::<Bip32Path>() {
        assert_eq!(
            p.to_string().parse::<Bip32Path>().ok(),
            Some(p),
            "path round trip"
        );
    }
}

fn simulator(input: &mut Input<'_>) {
    let sim = SimulatedLedger::new(SimulatorConfig::default()).expect("the default seed");
    let mut n = 0;
    while !input.is_empty() && n < 256 {
        match sim.process(input.piece()) {
            DeviceOutput::Reply(r) => assert!(r.len() >= 2, "a reply without a status word"),
            other => panic!("the simulator faulted without a scripted fault: {other:?}"),
        }
        n += 1;
    }
}
