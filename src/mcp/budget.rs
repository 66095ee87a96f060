//! How much one MCP answer may say. Assistants read tool results into a bounded context (Claude
//! Code refuses results over 25,000 tokens by default), so every answer of this server stays within
//! [`ANSWER_BUDGET`] characters of text, whatever the config size: long texts come in pages, long
//! lists are cut with a count of what was left out and the way to ask for it.

/// The most characters of text one tool result carries (the JSON text copy of its structured
/// answer included).
pub const ANSWER_BUDGET: usize = 20_000;

/// The share of the budget one page of free text (a human plan) may take: the rest of the answer
/// (ids, summary, escapes of the JSON text copy) fits in what is left.
pub const PAGE_CHARS: usize = 12_000;

/// Split text into pages of at most `limit` characters, at blank lines (a plan's blocks) where
/// possible. A single block longer than a page is cut at a line, and the cut is said.
pub fn pages(text: &str, limit: usize) -> Vec<String> {
    let mut pages = Vec::new();
    let mut page = String::new();
    for block in text.split_inclusive("\n\n") {
        let block = if block.chars().count() > limit {
            cut_block(block, limit)
        } else {
            block.to_string()
        };
        if !page.is_empty() && page.chars().count() + block.chars().count() > limit {
            pages.push(std::mem::take(&mut page));
        }
        page.push_str(&block);
    }
    if !page.is_empty() || pages.is_empty() {
        pages.push(page);
    }
    pages
}

fn cut_block(block: &str, limit: usize) -> String {
    let mut kept = String::new();
    let mut lines = block.lines();
    let total = block.lines().count();
    let mut shown = 0;
    for line in lines.by_ref() {
        if kept.chars().count() + line.chars().count() + 80 > limit {
            break;
        }
        kept.push_str(line);
        kept.push('\n');
        shown += 1;
    }
    kept.push_str(&format!(
        "      # ... {} more lines of this block cut to fit the answer\n\n",
        total - shown
    ));
    kept
}

/// Keep the leading items of `items` whose JSON fits in `limit` characters; returns how many were
/// kept.
pub fn fit<T: serde::Serialize>(items: &mut Vec<T>, limit: usize) -> usize {
    let mut used = 0;
    let mut keep = 0;
    for item in items.iter() {
        let size = serde_json::to_string(item).map(|s| s.len()).unwrap_or(0) + 1;
        if used + size > limit {
            break;
        }
        used += size;
        keep += 1;
    }
    items.truncate(keep);
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_split_at_blocks_and_never_exceed_the_limit() {
        let block = "x".repeat(90) + "\n\n";
        let text = block.repeat(50);
        let pages = pages(&text, 1_000);
        assert_eq!(pages.len(), 5);
        assert!(pages.iter().all(|p| p.chars().count() <= 1_000));
        assert_eq!(pages.concat(), text);
    }

    #[test]
    fn a_block_longer_than_a_page_is_cut_and_says_so() {
        let block = "line of text\n".repeat(500) + "\n";
        let pages = pages(&block, 1_000);
        assert_eq!(pages.len(), 1);
        assert!(pages[0].chars().count() <= 1_000);
        assert!(pages[0].contains("more lines of this block cut"));
    }

    #[test]
    fn fit_keeps_what_fits() {
        let mut items: Vec<String> = (0..100).map(|i| format!("item {i}")).collect();
        let kept = fit(&mut items, 100);
        assert!(kept > 0 && kept < 100);
        assert!(serde_json::to_string(&items).unwrap().len() <= 100 + 2);
    }
}
