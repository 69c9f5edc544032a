//! The session's symbols, their ids, and which consumer owns each.

use std::collections::HashMap;

use liu_core::domain::SymbolId;

/// Assigns symbols to consumers: stable (a symbol never moves) and
/// balanced (a new symbol goes to the consumer with the fewest).
#[derive(Debug, Default)]
pub struct Partition {
    owners: Vec<u32>,
    loads: Vec<usize>,
}

impl Partition {
    pub fn new(consumers: usize) -> Self {
        Self { owners: Vec::new(), loads: vec![0; consumers.max(1)] }
    }

    /// Assigns the next symbol id; returns its consumer.
    pub fn assign(&mut self) -> u32 {
        let (consumer, _) = self.loads.iter().enumerate().min_by_key(|(i, load)| (**load, *i)).unwrap_or((0, &0));
        self.loads[consumer] += 1;
        self.owners.push(consumer as u32);
        consumer as u32
    }

    pub fn owner(&self, symbol: SymbolId) -> Option<u32> {
        self.owners.get(symbol as usize).copied()
    }

    /// The symbol ids a consumer owns.
    pub fn owned_by(&self, consumer: u32) -> impl Iterator<Item = SymbolId> + '_ {
        self.owners.iter().enumerate().filter(move |(_, c)| **c == consumer).map(|(s, _)| s as SymbolId)
    }
}

/// The session's symbols and who owns them.
pub(super) struct SymbolTable {
    pub(super) names: Vec<String>,
    pub(super) ids: HashMap<String, SymbolId>,
    pub(super) partition: Partition,
}

impl SymbolTable {
    pub(super) fn new(symbols: &[String], consumers: usize) -> Self {
        let mut sorted = symbols.to_vec();
        sorted.sort();
        sorted.dedup();
        let mut table = Self { names: Vec::new(), ids: HashMap::new(), partition: Partition::new(consumers) };
        for name in sorted {
            table.add(name);
        }
        table
    }

    pub(super) fn add(&mut self, name: String) -> SymbolId {
        let id = self.names.len() as SymbolId;
        self.partition.assign();
        self.ids.insert(name.clone(), id);
        self.names.push(name);
        id
    }

    pub(super) fn assignment(&self, consumer: u32) -> Vec<(SymbolId, String)> {
        self.partition.owned_by(consumer).map(|s| (s, self.names[s as usize].clone())).collect()
    }
}
