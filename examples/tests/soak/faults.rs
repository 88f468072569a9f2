//! The faults injected into both emulators before a run.

use super::*;

impl Soak {
    pub(super) fn inject_faults(&mut self, w: &World) {
        self.world.graph.clear_faults();
        self.world.salesforce.clear_faults();
        let n = self.rng.below(4);
        for _ in 0..n {
            let times = u32::try_from(self.rng.range(1, 2)).unwrap();
            let secs = StdDuration::from_secs(self.rng.below(2));
            let name = match self.rng.below(15) {
                0 => {
                    self.world.graph.inject(GraphFault::Throttle {
                        retry_after: secs,
                        times,
                        path: None,
                    });
                    "graph 429 retry-after"
                }
                1 => {
                    self.world.graph.inject(GraphFault::BatchItemThrottle {
                        retry_after: secs,
                        times,
                    });
                    "graph $batch item 429"
                }
                2 => {
                    self.world.graph.inject(GraphFault::Unavailable {
                        status: 503,
                        times,
                        path: None,
                    });
                    "graph 503"
                }
                3 => {
                    self.world.graph.inject(GraphFault::DropConnection {
                        times: 1,
                        path: Some("$batch".into()),
                    });
                    "graph dropped connection ($batch)"
                }
                4 => {
                    self.world.graph.inject(GraphFault::DropConnection {
                        times: 1,
                        path: None,
                    });
                    "graph dropped connection"
                }
                5 => {
                    self.world.graph.inject(GraphFault::ExpireTokens);
                    "graph expired tokens"
                }
                6 => {
                    self.world.graph.inject(GraphFault::ExpireDeltaTokens);
                    "graph expired delta tokens"
                }
                7 => {
                    self.world
                        .graph
                        .inject(GraphFault::ResyncRequired { times: 1 });
                    "graph delta resync required"
                }
                8 => {
                    self.world
                        .salesforce
                        .inject(SalesforceFault::Unavailable { times });
                    "salesforce 503"
                }
                9 => {
                    self.world
                        .salesforce
                        .inject(SalesforceFault::DropConnection {
                            times: 1,
                            path: None,
                        });
                    "salesforce dropped connection"
                }
                10 => {
                    self.world
                        .salesforce
                        .inject(SalesforceFault::DropAfterWrite { times: 1 });
                    "salesforce dropped after write (mid-batch)"
                }
                11 => {
                    self.world
                        .salesforce
                        .inject(SalesforceFault::ExpireSessions);
                    "salesforce expired sessions"
                }
                12 | 13 => {
                    let sf: Vec<&Seen> = w.all(Side::Salesforce).collect();
                    let Some(t) = self.rng.pick(&sf) else {
                        continue;
                    };
                    self.world.salesforce.inject(SalesforceFault::LockRow {
                        id: t.id.clone(),
                        times: times + 1,
                    });
                    "salesforce UNABLE_TO_LOCK_ROW"
                }
                _ => {
                    if self.rng.chance(50) {
                        self.world.graph.inject(GraphFault::Slow {
                            delay: StdDuration::from_millis(15),
                            times: 1,
                            path: None,
                        });
                        "graph slow"
                    } else {
                        self.world
                            .salesforce
                            .inject(SalesforceFault::RequestLimitExceeded { times: 1 });
                        "salesforce request limit exceeded"
                    }
                }
            };
            self.trace(format_args!("fault: {name}"));
            *self.stats.faults.entry(name).or_default() += 1;
        }
    }
}
