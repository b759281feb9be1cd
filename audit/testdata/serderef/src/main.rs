// serderef reproduces what kavach 1.0's AuditChain does with serde_json, to
// produce reference vectors for the Go port.
//
//   serderef canon      < texts   one JSON text per line -> "ok\t<to_string(Value)>" or "err\t<msg>"
//   serderef write KEY  < recs    lines "serial\tevent_type\tpayload-json\ttimestamp" -> log lines (chained)
//   serderef verify KEY < log     kavach 1.0's verify_chain -> "ok N" or "err <msg>"
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::io::{BufRead, Read};

#[derive(Serialize, Deserialize)]
struct AuditEntry {
    serial: u64,
    event_type: String,
    payload: serde_json::Value,
    timestamp: String,
    hmac: String,
    prev_hmac: String,
}

fn mac(key: &[u8], serial: u64, et: &str, payload: &serde_json::Value, ts: &str, prev: &str) -> String {
    let canonical = serde_json::to_string(payload).unwrap();
    let input = format!("{}:{}:{}:{}:{}", serial, et, canonical, ts, prev);
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(input.as_bytes());
    m.finalize().into_bytes().iter().map(|b| format!("{:02x}", b)).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let stdin = std::io::stdin();
    match args[1].as_str() {
        "canon" => {
            for line in stdin.lock().lines() {
                let line = line.unwrap();
                match serde_json::from_str::<serde_json::Value>(&line) {
                    Ok(v) => println!("ok\t{}", serde_json::to_string(&v).unwrap()),
                    Err(e) => println!("err\t{}", e),
                }
            }
        }
        "write" => {
            let key = args[2].as_bytes();
            let mut prev = String::new();
            for line in stdin.lock().lines() {
                let line = line.unwrap();
                let f: Vec<&str> = line.splitn(4, '\t').collect();
                let serial: u64 = f[0].parse().unwrap();
                let payload: serde_json::Value = serde_json::from_str(f[2]).unwrap();
                let h = mac(key, serial, f[1], &payload, f[3], &prev);
                let e = AuditEntry { serial, event_type: f[1].to_string(), payload, timestamp: f[3].to_string(), hmac: h.clone(), prev_hmac: prev.clone() };
                println!("{}", serde_json::to_string(&e).unwrap());
                prev = h;
            }
        }
        "verify" => {
            let key = args[2].as_bytes();
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).unwrap();
            let mut prev = String::new();
            let mut n = 0u64;
            for (i, line) in s.lines().filter(|l| !l.trim().is_empty()).enumerate() {
                let e: AuditEntry = match serde_json::from_str(line) { Ok(e) => e, Err(err) => { println!("err parse {}: {}", i, err); return; } };
                if e.serial != i as u64 { println!("err serial gap at {}", i); return; }
                if e.prev_hmac != prev { println!("err prev_hmac mismatch at {}", i); return; }
                let h = mac(key, e.serial, &e.event_type, &e.payload, &e.timestamp, &e.prev_hmac);
                if h != e.hmac { println!("err HMAC mismatch at serial {}", e.serial); return; }
                prev = e.hmac;
                n += 1;
            }
            println!("ok {}", n);
        }
        _ => panic!("mode"),
    }
}
