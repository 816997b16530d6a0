-- Corrections and retractions of an agency's own records, and the bank BIN list as reference
-- data (hub/store/README.md, "Corrections and retractions"; hub/store/correct.c, bins.c).

-- Every record that supersedes or retracts an earlier record of its agency: applied when its
-- target is stored, pending until then (a correction that arrives before its target is kept
-- and applied when the target comes, never lost). leaf_index is the retraction or correction
-- leaf of the hub's log, appended when the change is applied.
CREATE TABLE corrections (
        agency      text NOT NULL,
        record_id   text NOT NULL,
        action      text NOT NULL CHECK (action IN ('supersede', 'retract')),
        target      text NOT NULL,
        status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied')),
        received_at timestamptz NOT NULL DEFAULT now(),
        applied_at  timestamptz,
        leaf_index  bigint,
        PRIMARY KEY (agency, record_id, action),
        FOREIGN KEY (agency, record_id) REFERENCES records (agency, record_id)
);
CREATE INDEX corrections_target ON corrections (agency, target);

-- The NAPAS/VietQR BIN list: which qualifiers a BANK_ACCOUNT or E_WALLET identifier may name.
-- hubd loads it at start and on SIGHUP (hubctl bins list|add|remove maintains it); an unknown
-- bank makes the identifier invalid (UNKNOWN_BANK), never a merge key.
CREATE TABLE bank_bins (
        bin         text PRIMARY KEY CHECK (bin ~ '^[0-9]{6}$'),
        code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9]{1,32}$'),
        aliases     text NOT NULL DEFAULT '' CHECK (position(E'\n' IN aliases) = 0),
        updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO bank_bins (bin, code, aliases) VALUES
        ('970436', 'VCB', 'Vietcombank'),
        ('970415', 'ICB', 'VietinBank|CTG'),
        ('970418', 'BIDV', ''),
        ('970405', 'VBA', 'Agribank|AGR'),
        ('970407', 'TCB', 'Techcombank'),
        ('970422', 'MB', 'MBBank|MBB'),
        ('970416', 'ACB', ''),
        ('970432', 'VPB', 'VPBank'),
        ('970423', 'TPB', 'TPBank'),
        ('970403', 'STB', 'Sacombank'),
        ('970437', 'HDB', 'HDBank'),
        ('970441', 'VIB', ''),
        ('970443', 'SHB', ''),
        ('971005', 'VIETTELMONEY', 'Viettel Money'),
        ('971011', 'VNPTMONEY', 'VNPT Money'),
        ('971025', 'MOMO', '');
