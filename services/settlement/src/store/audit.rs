//! Consistency checks of the ledger, each one SQL statement (one snapshot).

use sqlx::PgPool;

/// The first journal link whose entry disagrees with its transfer row, or a transfer without
/// a link.
pub async fn first_link_not_matching_transfer(pool: &PgPool) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT min(seq) FROM (
             SELECT j.seq FROM journal j JOIN transfers t ON t.id = j.transfer_id
             WHERE t.journal_seq <> j.seq
                OR j.entry::jsonb ->> 'amount_minor' <> t.amount::text
                OR j.entry::jsonb ->> 'debit_account_id' <> t.debit_account_id
                OR j.entry::jsonb ->> 'credit_account_id' <> t.credit_account_id
                OR j.entry::jsonb ->> 'currency' <> t.currency
                OR j.entry::jsonb ->> 'kind' <> t.kind
                OR j.entry::jsonb ->> 'code' <> t.code
             UNION ALL
             SELECT t.journal_seq FROM transfers t LEFT JOIN journal j ON j.transfer_id = t.id WHERE j.seq IS NULL
         ) AS broken",
    )
    .fetch_one(pool)
    .await
}

/// (accounts checked, ids of accounts whose stored totals differ from the sum of their
/// transfers).
pub async fn balance_mismatches(pool: &PgPool) -> Result<(i64, Vec<String>), sqlx::Error> {
    let checked: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts").fetch_one(pool).await?;
    let broken: Vec<String> = sqlx::query_scalar(
        "WITH legs AS (
             SELECT debit_account_id AS account, amount AS dpo, 0::bigint AS cpo, 0::bigint AS dp, 0::bigint AS cp
               FROM transfers WHERE kind IN ('posted', 'post_pending')
             UNION ALL
             SELECT credit_account_id, 0, amount, 0, 0 FROM transfers WHERE kind IN ('posted', 'post_pending')
             UNION ALL
             SELECT debit_account_id, 0, 0, amount, 0 FROM transfers WHERE kind = 'pending' AND pending_status = 'pending'
             UNION ALL
             SELECT credit_account_id, 0, 0, 0, amount FROM transfers WHERE kind = 'pending' AND pending_status = 'pending'
         ), sums AS (
             SELECT account, sum(dpo) AS dpo, sum(cpo) AS cpo, sum(dp) AS dp, sum(cp) AS cp FROM legs GROUP BY account
         )
         SELECT a.id FROM accounts a LEFT JOIN sums s ON s.account = a.id
         WHERE a.debits_posted <> COALESCE(s.dpo, 0) OR a.credits_posted <> COALESCE(s.cpo, 0)
            OR a.debits_pending <> COALESCE(s.dp, 0) OR a.credits_pending <> COALESCE(s.cp, 0)
         ORDER BY a.id LIMIT 100",
    )
    .fetch_all(pool)
    .await?;
    Ok((checked, broken))
}
